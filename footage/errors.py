"""The errors a request can meet. Each carries an HTTP status, a stable code and a message
that tells the caller what to fix; the API renders them as {"error": {"code", "message"}}."""

from __future__ import annotations


class FootageError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(FootageError):
    status, code = 400, "bad_request"


class PayloadTooLarge(FootageError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(FootageError):
    status, code = 415, "unsupported_media_type"


class Unauthorized(FootageError):
    status, code = 401, "unauthorized"


class Forbidden(FootageError):
    status, code = 403, "forbidden"


class NotFound(FootageError):
    status, code = 404, "not_found"


class Conflict(FootageError):
    status, code = 409, "conflict"


class MissingExtra(ValueError):
    """A feature needs an optional part of Footage that this install lacks: the message names
    the extra to install (pyproject.toml's optional dependencies)."""

    def __init__(self, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs Footage's '{extra}' extra, which is not installed here; "
            f"install it with: pip install 'footage[{extra}]'"
        )
        self.extra = extra
