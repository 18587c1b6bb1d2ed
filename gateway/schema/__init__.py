"""The one GraphQL schema front-ends see, with its limits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from gateway.config import Settings
from gateway.schema.errors import ErrorPolicy, log_errors
from gateway.schema.mutations import Mutation
from gateway.schema.queries import Query
from gateway.schema.subscriptions import Subscription


class GatewaySchema(strawberry.Schema):
    async def execute(  # type: ignore[override]
        self, *args: Any, allowed_operation_types: Iterable[OperationType] | None = None, **kwargs: Any
    ) -> ExecutionResult:
        # `execute` serves plain HTTP only (websockets stream): a subscription there would run as a query
        # and fail inside the resolver (an INTERNAL error); refuse it up front instead (400)
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        allowed.discard(OperationType.SUBSCRIPTION)
        return await super().execute(*args, allowed_operation_types=allowed, **kwargs)

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # expected refusals are answers, not incidents: only bugs are logged, with their traceback
        log_errors(errors, execution_context)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the configured limits; without settings (SDL export), the defaults."""
    settings = settings or Settings()
    # The limit rules are built once, so that the validation cache recognises a repeated document: a
    # fresh rule class per request would make every request a cache miss.
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    if not settings.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=256),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=256),
        ErrorPolicy,
    ]
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )
