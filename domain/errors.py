"""Domain errors with stable machine-readable codes and a Chinese message a person can act on.

The API maps each to an HTTP status and a `{"code": ..., "message": ...}` body; the CLI prints
the message. Activities convert them to non-retryable ApplicationErrors with the same code.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected, explainable failure. A subclass names its default code and its
    HTTP status in its header: `class NotFound(DomainError, code="not_found", status=404)`."""

    code = "domain_error"
    status = 400

    def __init_subclass__(cls, *, code: str | None = None, status: int | None = None) -> None:
        super().__init_subclass__()
        cls.code = code or cls.code
        cls.status = status or cls.status

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(DomainError, code="invalid_input", status=422):
    """Input that cannot be accepted (the message names the field or row); nothing was changed."""


class NotFound(DomainError, code="not_found", status=404):
    """No such object, or one outside the caller's scope (the two look the same)."""


class Conflict(DomainError, code="conflict", status=409):
    """The object's current state refuses the request."""


class Forbidden(DomainError, code="forbidden", status=403):
    """The caller may not do this."""


class Unauthenticated(DomainError, code="unauthenticated", status=401):
    """No valid token or session."""


class TooManyRequests(DomainError, code="rate_limited", status=429):
    """Too many attempts: try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Locked(DomainError, code="locked", status=423):
    """Too many failed sign-ins: the account refuses sign-in for a while (HTTP 423 Locked)."""


class CsrfRejected(DomainError, code="csrf", status=403):
    """A cookie-authenticated state-changing request without the matching X-CSRF-Token header."""
