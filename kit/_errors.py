"""Errors with a stable code, shared by every service.

    DomainError(code, message, field)        base: an expected refusal, never a 500
    ├── Unauthenticated       UNAUTHENTICATED     401
    ├── Forbidden             FORBIDDEN           403
    ├── NotFound              NOT_FOUND           404
    ├── InvalidInput          INVALID_INPUT       422
    ├── Conflict              CONFLICT            409
    │   ├── CoreTeamFull      CORE_TEAM_FULL
    │   ├── InsufficientFunds INSUFFICIENT_FUNDS
    │   ├── AlreadyExited     ALREADY_EXITED
    │   ├── VotingClosed      VOTING_CLOSED
    │   └── ReviewClosed      REVIEW_CLOSED
    └── Unavailable           UNAVAILABLE         503  (a dependency is down; retry later)

Domain code raises these; it knows nothing of HTTP. The HTTP status lives in `HTTP_STATUS`, used only by
the kit's exception handler and by clients mapping answers back to errors.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """An expected refusal with a stable machine-readable code."""

    code: ClassVar[str] = "ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"


class InvalidInput(DomainError):
    code = "INVALID_INPUT"


class Conflict(DomainError):
    code = "CONFLICT"


class CoreTeamFull(Conflict):
    code = "CORE_TEAM_FULL"


class InsufficientFunds(Conflict):
    code = "INSUFFICIENT_FUNDS"


class AlreadyExited(Conflict):
    code = "ALREADY_EXITED"


class VotingClosed(Conflict):
    code = "VOTING_CLOSED"


class ReviewClosed(Conflict):
    code = "REVIEW_CLOSED"


class Unavailable(DomainError):
    code = "UNAVAILABLE"


HTTP_STATUS: dict[str, int] = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "INVALID_INPUT": 422,
    "CONFLICT": 409,
    "CORE_TEAM_FULL": 409,
    "INSUFFICIENT_FUNDS": 409,
    "ALREADY_EXITED": 409,
    "VOTING_CLOSED": 409,
    "REVIEW_CLOSED": 409,
    "UNAVAILABLE": 503,
}

_BY_CODE: dict[str, type[DomainError]] = {
    cls.code: cls
    for cls in (
        Unauthenticated,
        Forbidden,
        NotFound,
        InvalidInput,
        Conflict,
        CoreTeamFull,
        InsufficientFunds,
        AlreadyExited,
        VotingClosed,
        ReviewClosed,
        Unavailable,
    )
}


def error_from_code(code: str, message: str, field: str | None = None) -> DomainError:
    """Rebuild a typed error from its wire form (used by HTTP clients of the services)."""
    return _BY_CODE.get(code, DomainError)(message, field=field)
