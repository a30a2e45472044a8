"""Domain errors with stable machine-readable codes and a Chinese message a person can act on.

The API maps each to an HTTP status and a `{"code": ..., "message": ...}` body; the CLI prints
the message. Activities convert them to non-retryable ApplicationErrors with the same code.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected, explainable failure."""

    code = "domain_error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    code = "invalid_input"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401


class TooManyRequests(DomainError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Locked(DomainError):
    """Too many failed sign-ins: the account refuses sign-in for a while (HTTP 423 Locked)."""

    code = "locked"
    status = 423


class CsrfRejected(DomainError):
    """A cookie-authenticated state-changing request without the matching X-CSRF-Token header."""

    code = "csrf"
    status = 403
