"""Upload bodies written byte by byte, for what httpx will not send: raw control characters
in a filename, a body cut off half way, a body that trickles in and counts what was read."""

from __future__ import annotations

from collections.abc import AsyncIterator

BOUNDARY = "----minibaseFaultsBoundary7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def text_part(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
    )


def file_head(filename: str, content_type: str = "image/jpeg", name: str = "file") -> bytes:
    """A file part's boundary line and headers; its bytes come next."""
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()


CLOSE = f"\r\n--{BOUNDARY}--\r\n".encode()  # ends the file's bytes and the body


def body_with_file(
    data: bytes, filename: str = "tmp.jpg", content_type: str = "image/jpeg"
) -> bytes:
    return file_head(filename, content_type) + data + CLOSE


class Trickle:
    """A request body handed over in chunks as the server asks for them, counting the bytes
    it pulled; it would go on for `total` bytes of file (far more than any limit)."""

    def __init__(self, first: bytes, total: int, chunk: int = 16 * 1024) -> None:
        self.first = first  # the file's opening bytes (its magic number)
        self.total = total
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head = file_head("big.jpg") + self.first
        self.pulled += len(head)
        yield head
        sent = len(self.first)
        while sent < self.total:
            piece = b"\0" * min(self.chunk, self.total - sent)
            sent += len(piece)
            self.pulled += len(piece)
            yield piece
        self.pulled += len(CLOSE)
        yield CLOSE
