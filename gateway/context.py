"""The per-request GraphQL context, built by a FastAPI dependency.

It carries who is asking (verified from the bearer token, never from a client-supplied field), one typed
client per service bound to that member, and fresh DataLoaders. Websockets authenticate once, in
`connection_init`, which re-binds the clients to the member named there.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from gateway.clients import MembershipClient, ProposalsClient, TimelockClient
from gateway.clients.pool import ServicePool
from gateway.config import Settings
from gateway.fanout import EventHub
from gateway.loaders import Loaders
from gateway.status import StatusAggregator
from kit import TokenKeyRing, Unauthenticated, current_request_id


@dataclass
class GatewayRuntime:
    """What the running gateway shares across requests (`app.state.gateway`)."""

    settings: Settings
    pool: ServicePool
    hub: EventHub
    status: StatusAggregator
    key_ring: TokenKeyRing | None


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return token.strip()


class Context(BaseContext):
    def __init__(self, runtime: GatewayRuntime, *, request_id: str | None = None) -> None:
        super().__init__()
        self.runtime = runtime
        self.settings = runtime.settings
        self.hub = runtime.hub
        self.request_id = request_id
        self.actor: str | None = None
        # why a presented token was refused; the request then runs anonymously and mutations say why
        self.auth_error: str | None = None
        self._bind()

    def authenticate(self, authorization: str | None) -> None:
        """Take the member from `Authorization: Bearer <token>`; raises Unauthenticated if it is bad."""
        token = bearer_token(authorization)
        actor = None
        if token is not None:
            if self.runtime.key_ring is None:
                raise Unauthenticated("sign-in is not configured on this gateway")
            actor = self.runtime.key_ring.verify(token)
        self.actor = actor
        self.auth_error = None
        self._bind()

    def authenticate_or_anonymous(self, authorization: str | None) -> None:
        try:
            self.authenticate(authorization)
        except Unauthenticated as exc:
            self.actor = None
            self.auth_error = exc.message
            self._bind()

    def require_actor(self) -> str:
        if self.actor is None:
            raise Unauthenticated(self.auth_error or "sign in first")
        return self.actor

    def _bind(self) -> None:
        common = {
            "secret": self.settings.internal_auth_secret,
            "actor": self.actor,
            "retries": self.settings.read_retries,
            "request_id": self.request_id,
        }
        self.membership = MembershipClient(self.runtime.pool.membership, **common)
        self.proposals = ProposalsClient(self.runtime.pool.proposals, **common)
        self.timelock = TimelockClient(self.runtime.pool.timelock, **common)
        self.loaders = Loaders(self.membership, self.proposals, self.timelock)

    def fresh_loaders(self) -> Loaders:
        """Loaders for one subscription event: a websocket lives long, its answers must not go stale."""
        return Loaders(self.membership, self.proposals, self.timelock)


async def get_context(connection: HTTPConnection) -> Context:
    """FastAPI dependency: the GraphQL context of one HTTP request or one websocket connection."""
    request_id = connection.scope.get("state", {}).get("request_id") or current_request_id()
    context = Context(connection.app.state.gateway, request_id=request_id)
    context.authenticate_or_anonymous(connection.headers.get("authorization"))
    return context
