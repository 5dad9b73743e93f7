"""Collector errors: each maps to one HTTP status and carries a reason a person can act on."""

from __future__ import annotations

from ..errors import ConfigError, WorkprintError  # noqa: F401  (ConfigError: re-exported)


class CollectorError(WorkprintError):
    status = 400


class BadRequest(CollectorError):
    status = 400


class Unauthorized(CollectorError):
    status = 401


class TokenExpired(Unauthorized):
    """A role token past its lifetime: the message says when and how to get a new one."""


class Forbidden(CollectorError):
    status = 403


class NotFound(CollectorError):
    status = 404


class Gone(CollectorError):
    """The caller's data was erased: a device hearing this empties its outbox."""

    status = 410


class Conflict(CollectorError):
    status = 409


class TooLarge(CollectorError):
    status = 413


class Unprocessable(CollectorError):
    status = 422


class TooManyRequests(CollectorError):
    status = 429

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after

