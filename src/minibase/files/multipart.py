"""Read an upload as mini programs send it: streaming multipart/form-data with one file.

`wx.uploadFile`, `my.uploadFile`, `tt.uploadFile`, `swan.uploadFile` and `qq.uploadFile` all POST
multipart/form-data: each `formData` entry as a text part, then the file as one part named by
the call's `name` (Alipay's older `fileName`), with a filename and a Content-Type the runtime
makes up from its temporary path (`wxfile://tmp_…`, `http://tmp/…`, `https://resource/apml….image`)
or leaves out. Those two are hints: show them, never store under them, and let `sniff.py` decide
the type from the bytes.

A route reads one like this (the body is read only as fast as the file is consumed; nothing is
held but one chunk and one part's headers):

    limits = UploadLimits(file_part="file", max_file_bytes=field.max_size)
    upload = await read_upload(request.stream(), request.headers.get("content-type"), limits)
    upload.fields                      # the text fields sent before the file
    async for chunk in upload.file:    # the file's bytes; never more than max_file_bytes
        await sink.write(chunk)
    upload.fields, upload.size         # every text field: the body has been read to its end

`source` is an async iterator of body chunks (Starlette's `request.stream()`) or an ASGI
`receive` callable. Every problem is an `ApiError`: `files.too_large` (413) the moment the file
passes `max_file_bytes`; `files.invalid_upload` (400) for a body that is not one file in
multipart/form-data (no boundary, cut off, no file part, two files, a header or text field past
its limit). What follows the file's bytes (more fields, the closing boundary) is checked when
`upload.file` ends, so a caller that stores while it reads drops what it stored if iterating
raises.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from minibase.errors import ApiError

Receive = Callable[[], Awaitable[Mapping[str, Any]]]
BodySource = AsyncIterable[bytes] | Receive

MAX_BOUNDARY = 200  # RFC 2046 says 70; some clients go longer, none needs more than this
_PADDING = b" \t"


@dataclass(frozen=True)
class UploadLimits:
    file_part: str = "file"  # the part name the file comes under (the SDK call's `name`)
    max_file_bytes: int = 10 * 1024 * 1024
    max_fields: int = 32  # text parts (`formData` entries)
    max_field_bytes: int = 16 * 1024  # one text field's value
    max_header_bytes: int = 8 * 1024  # one part's header block (and any preamble)


def _invalid(message: str, **details: Any) -> ApiError:
    return ApiError("files.invalid_upload", 400, message, details)


@dataclass(frozen=True)
class _PartHead:
    name: str
    filename: str | None  # None: no filename parameter at all
    content_type: str | None


class Upload:
    """One upload being read: the client's hints, the text fields, the file as chunks."""

    def __init__(self, parser: _Parser, head: _PartHead) -> None:
        self._parser = parser
        self.filename = _filename_hint(head.filename)
        self.content_type = head.content_type
        self.fields = parser.fields
        self.size = 0
        self.file: AsyncIterator[bytes] = self._read_file()

    async def _read_file(self) -> AsyncIterator[bytes]:
        limit = self._parser.limits.max_file_bytes
        async for piece in self._parser.part_data():
            self.size += len(piece)
            if self.size > limit:
                raise ApiError(
                    "files.too_large",
                    413,
                    f"the file is larger than {limit} bytes",
                    {"max": limit},
                )
            yield piece
        await self._parser.read_after_file()


async def read_upload(
    source: BodySource, content_type: str | None, limits: UploadLimits | None = None
) -> Upload:
    """Read the body up to the file's first byte; see the module docstring."""
    limits = limits or UploadLimits()
    parser = _Parser(_body_chunks(source), boundary_of(content_type), limits)
    await parser.skip_preamble()
    while (head := await parser.next_part()) is not None:
        if parser.is_file(head):
            return Upload(parser, head)
        await parser.read_field(head)
    raise _invalid(
        f"the upload has no file: no part named {limits.file_part!r}",
        part=limits.file_part,
    )


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a `multipart/form-data` Content-Type header, quoted or not."""
    if not content_type:
        raise _invalid("the request has no Content-Type; an upload is multipart/form-data")
    kind, params = _header_parameters(content_type)
    if kind.lower() != "multipart/form-data":
        raise _invalid(f"the Content-Type is {kind!r}, not multipart/form-data")
    boundary = params.get("boundary", "")
    if not boundary:
        raise _invalid("the Content-Type has no boundary parameter")
    if len(boundary) > MAX_BOUNDARY or not all(" " <= c <= "~" for c in boundary):
        raise _invalid(f"the boundary is not 1 to {MAX_BOUNDARY} printable ASCII characters")
    return boundary.encode("ascii")


async def _body_chunks(source: BodySource) -> AsyncIterator[bytes]:
    if isinstance(source, AsyncIterable):
        async for chunk in source:
            yield chunk
        return
    while True:  # an ASGI receive channel; a disconnect ends the body (the parser sees the cut)
        message = await source()
        if message["type"] != "http.request":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


class _Parser:
    """The body's bytes, a look-ahead buffer, and where the parser stands in the parts."""

    def __init__(self, chunks: AsyncIterator[bytes], boundary: bytes, limits: UploadLimits) -> None:
        self._chunks = chunks
        self._delimiter = b"\r\n--" + boundary
        self.limits = limits
        # the first boundary line has no CRLF before it; lending it one makes every line alike
        self._buffer = bytearray(b"\r\n")
        self._ended = False
        self._file_seen = False
        self.fields: dict[str, str] = {}

    async def _fill(self) -> bool:
        """One more chunk into the buffer; False at the end of the body."""
        if self._ended:
            return False
        try:
            self._buffer += await anext(self._chunks)
        except StopAsyncIteration:
            self._ended = True
            return False
        return True

    async def _need(self, size: int, where: str) -> None:
        while len(self._buffer) < size:
            if not await self._fill():
                raise _invalid(f"the body ends {where}: the upload was cut off")

    async def skip_preamble(self) -> None:
        limit = self.limits.max_header_bytes + len(self._delimiter)
        while (found := self._buffer.find(self._delimiter)) == -1:
            if len(self._buffer) > limit or not await self._fill():
                raise _invalid(
                    "the body does not start with the boundary of its Content-Type",
                    limit=self.limits.max_header_bytes,
                )
        del self._buffer[: found + len(self._delimiter)]

    async def next_part(self) -> _PartHead | None:
        """The headers of the part after a boundary line; None after the closing one."""
        await self._need(2, "after a boundary line")
        if self._buffer.startswith(b"--"):
            return None  # the closing boundary; whatever follows is epilogue, never read
        padding = 0
        while True:  # transport padding (RFC 2046), then the line's CRLF
            while padding < len(self._buffer) and self._buffer[padding] in _PADDING:
                padding += 1
            if padding > self.limits.max_header_bytes:
                raise _invalid("a boundary line goes on past the header limit")
            if padding + 2 <= len(self._buffer):
                break
            await self._need(padding + 2, "after a boundary line")
        if self._buffer[padding : padding + 2] != b"\r\n":
            raise _invalid("a boundary line has more after the boundary than a line end")
        del self._buffer[:padding]
        return _part_head(await self._header_block())

    async def _header_block(self) -> bytes:
        """The part's header lines (the buffer starts at the CRLF ending the boundary line)."""
        limit = self.limits.max_header_bytes
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            boundary = self._buffer.find(self._delimiter)
            if boundary != -1 and (end == -1 or boundary < end):
                raise _invalid("a part's headers run into the next boundary (no blank line)")
            if end != -1:
                if end - 2 > limit:
                    raise _invalid(f"a part's headers pass {limit} bytes", limit=limit)
                block = bytes(self._buffer[2:end]) if end else b""
                del self._buffer[: end + 4]
                return block
            if len(self._buffer) > limit + 4:
                raise _invalid(f"a part's headers pass {limit} bytes", limit=limit)
            if not await self._fill():
                raise _invalid("the body ends inside a part's headers: the upload was cut off")

    async def part_data(self) -> AsyncIterator[bytes]:
        """The current part's bytes as they come, up to (and past) the next boundary line."""
        keep = len(self._delimiter) - 1  # a boundary may begin in the bytes held back
        while True:
            found = self._buffer.find(self._delimiter)
            if found != -1:
                if found:
                    yield bytes(self._buffer[:found])
                del self._buffer[: found + len(self._delimiter)]
                return
            if len(self._buffer) > keep:
                cut = len(self._buffer) - keep
                yield bytes(self._buffer[:cut])
                del self._buffer[:cut]
            if not await self._fill():
                raise _invalid("the body ends inside a part: the upload was cut off")

    def is_file(self, head: _PartHead) -> bool:
        if head.name == self.limits.file_part or head.filename is not None:
            if self._file_seen:
                raise _invalid(f"a second file (part {head.name!r}): an upload carries one file")
            if head.name != self.limits.file_part:
                raise _invalid(
                    f"the file came in the part {head.name!r}; this upload takes it in"
                    f" {self.limits.file_part!r}",
                    part=self.limits.file_part,
                )
            self._file_seen = True
            return True
        return False

    async def read_field(self, head: _PartHead) -> None:
        limits = self.limits
        if head.name in self.fields:
            raise _invalid(f"the field {head.name!r} comes twice")
        if len(self.fields) >= limits.max_fields:
            raise _invalid(f"more than {limits.max_fields} text fields", limit=limits.max_fields)
        value = bytearray()
        async for piece in self.part_data():
            value += piece
            if len(value) > limits.max_field_bytes:
                raise _invalid(
                    f"the field {head.name!r} is longer than {limits.max_field_bytes} bytes",
                    field=head.name,
                    limit=limits.max_field_bytes,
                )
        try:
            self.fields[head.name] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid(f"the field {head.name!r} is not UTF-8 text", field=head.name) from None

    async def read_after_file(self) -> None:
        """The text fields after the file, up to the closing boundary."""
        while (head := await self.next_part()) is not None:
            self.is_file(head)  # only raises here: the file was seen
            await self.read_field(head)


def _part_head(block: bytes) -> _PartHead:
    headers: dict[str, str] = {}
    last = ""
    for raw in block.split(b"\r\n") if block else []:
        line = _header_text(raw)
        if line[:1] in (" ", "\t") and last:  # obsolete folding: the line continues the last
            headers[last] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise _invalid(f"a part header is not 'Name: value': {line[:80]!r}")
        last = name.strip().lower()
        headers[last] = value.strip()
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise _invalid("a part has no Content-Disposition header")
    kind, params = _header_parameters(disposition)
    if kind.lower() != "form-data" or "name" not in params:
        raise _invalid("a part's Content-Disposition is not form-data with a name")
    filename = params.get("filename*", params.get("filename"))
    content_type = headers.get("content-type")
    media_type = _header_parameters(content_type)[0].lower() if content_type else None
    return _PartHead(params["name"], filename, media_type or None)


def _header_text(raw: bytes) -> str:
    try:  # runtimes put UTF-8 names in headers unencoded; Latin-1 takes any byte
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _header_parameters(value: str) -> tuple[str, dict[str, str]]:
    """'kind; a=1; b="two; 2"' -> ('kind', {'a': '1', 'b': 'two; 2'}); names lower-cased."""
    kind, _, rest = value.partition(";")
    params: dict[str, str] = {}
    i = 0
    while i < len(rest):
        end = rest.find("=", i)
        if end == -1:
            break
        name = rest[i:end].rsplit(";", 1)[-1].strip().lower()
        i = end + 1
        while i < len(rest) and rest[i] in " \t":
            i += 1
        if rest[i : i + 1] == '"':
            text, i = _quoted(rest, i + 1)
        else:
            stop = rest.find(";", i)
            stop = len(rest) if stop == -1 else stop
            text, i = rest[i:stop].strip(), stop
        if name.endswith("*"):  # RFC 5987: charset'language'percent-encoded
            text = _extended_value(text)
        params.setdefault(name, text)
        i = rest.find(";", i)
        i = len(rest) if i == -1 else i + 1
    return kind.strip(), params


def _extended_value(text: str) -> str:
    charset, _, rest = text.partition("'")
    encoded = rest.partition("'")[2]
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return unquote(encoded, errors="replace")


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The quoted string from text[i] (just past its opening quote) and the index past it."""
    out = []
    while i < len(text) and text[i] != '"':
        # only \" and \\ are escapes: browsers and runtimes leave other backslashes as they are
        if text[i] == "\\" and text[i + 1 : i + 2] in ('"', "\\"):
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), i + 1


def _filename_hint(filename: str | None) -> str | None:
    """The last path segment of the client's filename, for display only."""
    if filename is None:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c >= " " and c != "\x7f")[:255]
    return name or None
