"""Files: where uploads are kept (`storage.py`: the FileStorage interface, `local.py`: the data
directory, `s3.py`: any S3-compatible service, `sigv4.py`: its request signing)."""
