"""The services' internal APIs refuse every call that does not carry the gateway's trusted identity.

Every `/v1` route of every service's OpenAPI document is called directly (bypassing the gateway) with no
identity and with identities forged in each way an attacker could; each must answer 401 UNAUTHENTICATED
in the standard error shape, and nothing may change.
"""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest

from kit import INTERNAL_HEADER, mint_internal_token
from tests.faults.figures import report
from tests.security.support import SERVICES, Fingerprint, Tally, Target, changed

pytestmark = [pytest.mark.e2e, pytest.mark.security]

SUITE = "internal_identity"
ADDRESS = "0x" + "ab" * 20


def forged_identities(target: Target) -> dict[str, dict[str, str]]:
    now = int(time.time())
    claims = {"iss": "bicameral-gateway", "sub": ADDRESS, "iat": now, "exp": now + 60}
    kid, member_secret = target.member_keys.split(",")[0].split(":", 1)
    return {
        "none": {},
        "empty": {INTERNAL_HEADER: ""},
        "another secret": {INTERNAL_HEADER: mint_internal_token("not-the-secret-" * 4, ADDRESS)},
        "expired": {INTERNAL_HEADER: jwt.encode({**claims, "exp": now - 5}, target.internal_secret, "HS256")},
        "another issuer": {
            INTERNAL_HEADER: jwt.encode(
                {**claims, "iss": "bicameral-membership"}, target.internal_secret, "HS256"
            )
        },
        "no expiry": {
            INTERNAL_HEADER: jwt.encode(
                {"iss": "bicameral-gateway", "sub": ADDRESS}, target.internal_secret, "HS256"
            )
        },
        "alg none": {INTERNAL_HEADER: jwt.encode(claims, None, "none")},
        "a member's bearer token": {
            INTERNAL_HEADER: jwt.encode(
                {**claims, "iss": "bicameral-membership", "aud": "bicameral"},
                member_secret,
                "HS256",
                headers={"kid": kid},
            )
        },
        "bearer header instead": {
            "Authorization": "Bearer " + mint_internal_token(target.internal_secret, ADDRESS)
        },
    }


def fill(path: str) -> str:
    """A concrete URL for a route template: ids, slugs and addresses of the right shape."""
    out = path
    for name, value in (
        ("slug", "some-org"),
        ("address", ADDRESS),
    ):
        out = out.replace("{" + name + "}", value)
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        out = out[:start] + str(uuid.uuid4()) + out[end + 1 :]
    return out


async def test_every_internal_route_refuses_a_caller_without_the_gateways_identity(
    target: Target, fingerprint: Fingerprint, tally: Tally
):
    identities = forged_identities(target)
    refusals: dict[str, str] = {}
    routes = 0
    async with httpx.AsyncClient(timeout=10) as http:
        before = await fingerprint.take()
        for service in SERVICES:
            base = target.platform.url(service)
            spec = (await http.get(f"{base}/openapi.json")).json()
            for path, methods in spec["paths"].items():
                if not path.startswith("/v1"):
                    continue
                for method in methods:
                    routes += 1
                    for name, headers in identities.items():
                        r = await http.request(method.upper(), base + fill(path), headers=headers, json={})
                        target.responses.append(r.text)
                        ok = (
                            r.status_code == 401
                            and r.json().get("error", {}).get("code") == "UNAUTHENTICATED"
                        )
                        tally.record(SUITE, ok)
                        if not ok:
                            refusals[f"{service} {method.upper()} {path} [{name}]"] = (
                                f"{r.status_code} {r.text[:120]}"
                            )
        unchanged = changed(before, await fingerprint.take()) == []
    report("security.internal_identity", routes=routes, **tally.figures(SUITE), state_unchanged=unchanged)
    assert routes >= 20
    assert refusals == {}
    assert unchanged
