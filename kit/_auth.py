"""Who is calling: the gateway's trusted identity for the services, and members' bearer tokens.

- Internal identity: the gateway signs a short-lived HS256 token (`X-Bicameral-Internal`) naming the
  acting member (or nobody). Services accept no `/v1` call without it, so an actor can never be taken
  from a client-supplied field or from a caller that bypassed the gateway.
- Member tokens: issued by the membership service after sign-in, verified by the gateway. Signed with
  the first key of a key ring (`kid:secret,kid:secret`); any key of the ring verifies, so keys rotate by
  prepending a new one and dropping the old after the token lifetime.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from fastapi import Request

from ._errors import Unauthenticated

INTERNAL_HEADER = "X-Bicameral-Internal"
INTERNAL_ISSUER = "bicameral-gateway"
INTERNAL_TTL_SECONDS = 60
MEMBER_ISSUER = "bicameral-membership"
MEMBER_AUDIENCE = "bicameral"


# A minted token is handed out again for this long, so the gateway signs once per actor every few seconds
# rather than on every service call; what is left of its minute still covers the longest request.
INTERNAL_REUSE_SECONDS = 10
# Both caches are bounded by clearing them when full: they only save work, a miss is always correct.
_CACHE_LIMIT = 4096
_minted: dict[tuple[str, str | None], tuple[float, str]] = {}
_verified: dict[tuple[str, str], tuple[float, Caller]] = {}


def mint_internal_token(secret: str, actor: str | None) -> str:
    key = (secret, actor.lower() if actor else None)
    cached = _minted.get(key)
    if cached is not None and time.time() < cached[0]:
        return cached[1]
    now = int(time.time())
    claims: dict[str, object] = {"iss": INTERNAL_ISSUER, "iat": now, "exp": now + INTERNAL_TTL_SECONDS}
    if key[1]:
        claims["sub"] = key[1]
    token = jwt.encode(claims, secret, algorithm="HS256")
    if len(_minted) >= _CACHE_LIMIT:
        _minted.clear()
    _minted[key] = (now + INTERNAL_REUSE_SECONDS, token)
    return token


@dataclass(frozen=True, slots=True)
class Caller:
    """The member on whose behalf the gateway calls, or None for an anonymous request."""

    actor: str | None

    def require_actor(self) -> str:
        if not self.actor:
            raise Unauthenticated("sign in first")
        return self.actor


def verify_internal_token(secret: str, token: str | None) -> Caller:
    if not token:
        raise Unauthenticated("missing internal identity")
    # the gateway reuses a token for several calls: one verified before (same bytes, signature included)
    # is taken again until it expires, as PyJWT would (valid while now < exp)
    cached = _verified.get((secret, token))
    if cached is not None and time.time() < cached[0]:
        return cached[1]
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], issuer=INTERNAL_ISSUER, options={"require": ["exp", "iss"]}
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated("invalid internal identity") from exc
    who = Caller(actor=claims.get("sub"))
    if isinstance(claims["exp"], int | float):
        if len(_verified) >= _CACHE_LIMIT:
            _verified.clear()
        _verified[(secret, token)] = (float(claims["exp"]), who)
    return who


async def caller(request: Request) -> Caller:
    """FastAPI dependency: the verified internal caller (401 UNAUTHENTICATED without one)."""
    return verify_internal_token(
        request.app.state.settings.internal_auth_secret, request.headers.get(INTERNAL_HEADER)
    )


class TokenKeyRing:
    """Signing keys for member tokens: `kid:secret` pairs, the first one signs."""

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        if not keys:
            raise ValueError("the key ring needs at least one key")
        self.keys = keys
        self._by_kid = dict(keys)

    @classmethod
    def parse(cls, value: str) -> TokenKeyRing:
        pairs = []
        for item in value.split(","):
            kid, sep, secret = item.strip().partition(":")
            if not sep or not kid or not secret:
                raise ValueError("AUTH_TOKEN_KEYS must look like 'kid:secret[,kid:secret...]'")
            pairs.append((kid, secret))
        return cls(pairs)

    def issue(self, address: str, ttl_seconds: int, now: datetime | None = None) -> tuple[str, datetime]:
        issued = now or datetime.now(UTC)
        expires = issued + timedelta(seconds=ttl_seconds)
        kid, secret = self.keys[0]
        token = jwt.encode(
            {
                "sub": address.lower(),
                "iss": MEMBER_ISSUER,
                "aud": MEMBER_AUDIENCE,
                "iat": int(issued.timestamp()),
                "exp": int(expires.timestamp()),
            },
            secret,
            algorithm="HS256",
            headers={"kid": kid},
        )
        return token, expires

    def verify(self, token: str) -> str:
        """Answer the token's member address; raise Unauthenticated for anything wrong with it."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            secret = self._by_kid.get(kid or "")
            if secret is None:
                raise Unauthenticated("token signed with an unknown key")
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                issuer=MEMBER_ISSUER,
                audience=MEMBER_AUDIENCE,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("token expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid token") from exc
        return str(claims["sub"])
