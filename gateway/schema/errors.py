"""Expected failures as data (`userErrors`), everything else masked.

Mutations answer refusals in their payload's `userErrors { field code message }` with the contract's
stable codes. Queries answer a missing thing with null; a refusal or an unavailable service in a query
becomes a GraphQL error whose `extensions.code` is the same stable code. Any other exception is a bug:
its message is replaced (no internals, no stack traces) and it is logged server-side.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from gateway.schema.enums import UserErrorCode
from kit import DomainError

log = logging.getLogger("gateway.errors")

P = TypeVar("P")


@strawberry.type(
    description="Why a mutation was refused: a stable code, the input field at fault, a message."
)
class UserError:
    field: str | None = strawberry.field(
        description="The input field at fault, as a path (e.g. 'input.title')."
    )
    code: UserErrorCode = strawberry.field(description="Stable code; branch on this, not on the message.")
    message: str = strawberry.field(description="Human-readable explanation.")


def refusals(description: str = "Why the mutation was refused; empty on success.") -> Any:
    """Every mutation payload's `userErrors` field: empty on success, one entry per refusal."""
    return strawberry.field(default_factory=list, description=description)


def user_error(exc: DomainError) -> UserError:
    try:
        code = UserErrorCode(exc.code)
    except ValueError:
        code = UserErrorCode.INVALID_INPUT
    return UserError(field=exc.field, code=code, message=exc.message)


async def guarded(payload: Callable[..., P], action: Callable[[], Awaitable[P]]) -> P:
    """Run a mutation; an expected refusal becomes an empty payload with one user error."""
    try:
        return await action()
    except DomainError as exc:
        return payload(user_errors=[user_error(exc)])


def is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | DomainError)


class ErrorPolicy(MaskErrors):
    """Keeps validation, limit and expected errors (with their stable code); masks everything else."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda e: not is_expected(e), error_message="Internal error.")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        out: list[GraphQLError] = []
        for error in errors:
            original = error.original_error
            if isinstance(original, DomainError):
                out.append(
                    GraphQLError(
                        original.message,
                        nodes=error.nodes,
                        source=error.source,
                        positions=error.positions,
                        path=error.path,
                        extensions={
                            "code": original.code,
                            **({"field": original.field} if original.field else {}),
                        },
                    )
                )
            elif is_expected(error):
                out.append(error)
            else:
                out.append(self.anonymise_error(error))
        return out

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(
            self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL"},
        )


def log_errors(errors: list[GraphQLError], _execution_context: Any = None) -> None:
    for error in errors:
        if is_expected(error):
            continue
        log.error("unexpected error in a resolver", exc_info=error.original_error)
