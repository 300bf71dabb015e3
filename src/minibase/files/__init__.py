"""Files: uploads read as mini programs send them (`multipart.py`), typed by their content
(`sniff.py`), kept by a storage backend (`storage.py`: the interface, `local.py`: the data
directory, `s3.py`: any S3-compatible service, signed by `sigv4.py`), handed out through
temporary links (`signed_urls.py`) and thumbnailed (`thumbnails.py`)."""
