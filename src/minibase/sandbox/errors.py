"""The one error the control API raises: a `sandbox.*` code, an HTTP status and a sentence."""

from __future__ import annotations


class SandboxError(Exception):
    """A control-API request the sandbox cannot honour.

    Platform endpoints never raise this: they answer in the platform's own error format.
    """

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}
