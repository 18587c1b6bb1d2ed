"""Sign-in (EIP-4361) and bearer tokens under attack: every forgery is UNAUTHENTICATED and changes nothing.

A refused sign-in must not consume the challenge (its owner can still use it), and a refused token leaves
the caller anonymous: `me` is null and every mutation answers UNAUTHENTICATED.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator

import jwt
import pytest

from kit import TokenKeyRing
from tests.e2e.harness import OPERATIONS, Wallet
from tests.faults.figures import report
from tests.security.conftest import NONCE_TTL_SECONDS
from tests.security.support import Fingerprint, Gql, Tally, Target, changed, user_error_code

pytestmark = [pytest.mark.e2e, pytest.mark.security]

SUITE = "sign_in"


@pytest.fixture
async def fresh(gql: Gql) -> AsyncIterator[tuple[Wallet, str]]:
    """A wallet and a fresh challenge for it."""
    wallet = Wallet.create("signer")
    message = (await gql.op("SignInChallenge", address=wallet.address))["data"]["signInChallenge"]
    return wallet, message


async def refused(
    gql: Gql, fingerprint: Fingerprint, tally: Tally, message: str, signature: str
) -> str | None:
    """Submit a sign-in that must fail; answers its code (BAD_REQUEST for a request refused whole) after
    checking it was quick and changed nothing."""
    before = await fingerprint.take()
    started = time.monotonic()
    r = await gql.post(
        {"query": OPERATIONS["SignIn"], "variables": {"message": message, "signature": signature}}
    )
    if 400 <= r.status_code < 500:
        code, token = "BAD_REQUEST", None
    else:
        doc = r.json()
        payload = (doc.get("data") or {}).get("signIn") or {}
        code = user_error_code(doc) if not doc.get("errors") else doc["errors"][0]["extensions"].get("code")
        token = payload.get("token")
    clean = (
        code in ("UNAUTHENTICATED", "INVALID_INPUT", "BAD_REQUEST")
        and token is None
        and time.monotonic() - started < 5
        and changed(before, await fingerprint.take()) == []
    )
    tally.record(SUITE, clean)
    return code


async def test_a_replayed_sign_in_is_refused(gql: Gql, fingerprint: Fingerprint, tally: Tally, fresh):
    wallet, message = fresh
    signature = wallet.sign(message)
    first = await gql.op("SignIn", message=message, signature=signature)
    assert first["data"]["signIn"]["token"]
    gql.target.tokens.add(first["data"]["signIn"]["token"])
    assert await refused(gql, fingerprint, tally, message, signature) == "UNAUTHENTICATED"


async def test_an_expired_challenge_is_refused(gql: Gql, fingerprint: Fingerprint, tally: Tally, fresh):
    wallet, message = fresh
    await asyncio.sleep(NONCE_TTL_SECONDS + 0.5)
    assert await refused(gql, fingerprint, tally, message, wallet.sign(message)) == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("what", "old", "new"),
    [
        ("domain", "wants you to sign in", None),
        ("chain", "Chain ID: ", "Chain ID: 5"),
        ("uri", "URI: ", "URI: https://evil.example"),
    ],
)
async def test_a_message_rewritten_for_another_domain_chain_or_uri_is_refused_though_validly_signed(
    gql: Gql, fingerprint: Fingerprint, tally: Tally, fresh, what: str, old: str, new: str | None
):
    wallet, message = fresh
    lines = message.split("\n")
    if what == "domain":
        lines[0] = "evil.example " + lines[0].split(" ", 1)[1]
    else:
        lines = [new if line.startswith(old) else line for line in lines]  # type: ignore[misc]
    forged = "\n".join(lines)
    assert forged != message
    assert await refused(gql, fingerprint, tally, forged, wallet.sign(forged)) == "UNAUTHENTICATED"
    # the refusal did not use the challenge up: its owner still signs in with it
    ok = await gql.op("SignIn", message=message, signature=wallet.sign(message))
    assert ok["data"]["signIn"]["token"]
    gql.target.tokens.add(ok["data"]["signIn"]["token"])


async def test_a_signature_by_another_key_is_refused_and_leaves_the_challenge_usable(
    gql: Gql, fingerprint: Fingerprint, tally: Tally, fresh
):
    wallet, message = fresh
    assert await refused(gql, fingerprint, tally, message, Wallet.create().sign(message)) == "UNAUTHENTICATED"
    ok = await gql.op("SignIn", message=message, signature=wallet.sign(message))
    assert ok["data"]["signIn"]["token"]
    gql.target.tokens.add(ok["data"]["signIn"]["token"])


async def test_a_challenge_issued_to_another_address_is_refused(
    gql: Gql, fingerprint: Fingerprint, tally: Tally, fresh
):
    wallet, message = fresh
    thief = Wallet.create()
    stolen = message.replace(wallet.address, thief.address)
    assert await refused(gql, fingerprint, tally, stolen, thief.sign(stolen)) == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "signature",
    ["", "0x", "0x00", "0x" + "ff" * 65, "0x" + "00" * 65, "not hex at all", "0x" + "ab" * 4000],
    ids=["empty", "prefix", "one byte", "all ff", "all zero", "text", "huge"],
)
async def test_malformed_signatures_are_refused_cleanly(
    gql: Gql, fingerprint: Fingerprint, tally: Tally, fresh, signature: str
):
    _, message = fresh
    assert await refused(gql, fingerprint, tally, message, signature) in ("UNAUTHENTICATED", "INVALID_INPUT")


@pytest.mark.parametrize(
    "message", ["", "hello", "x" * 20_000, "\x00" * 10], ids=["empty", "not siwe", "huge", "nul bytes"]
)
async def test_messages_that_are_not_sign_in_messages_are_refused_cleanly(
    gql: Gql, fingerprint: Fingerprint, tally: Tally, message: str
):
    wallet = Wallet.create()
    # a NUL character is refused with the whole request (400): no service could store it
    assert await refused(gql, fingerprint, tally, message, wallet.sign(message or " ")) in (
        "UNAUTHENTICATED",
        "INVALID_INPUT",
        "BAD_REQUEST",
    )


# --- bearer tokens ----------------------------------------------------------------------------------------


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged_tokens(target: Target, genuine: str, victim: str) -> dict[str, str]:
    """Tokens an attacker could present, each wrong in one way."""
    header, payload, signature = genuine.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    kid, secret = target.member_keys.split(",")[0].split(":", 1)
    now = int(time.time())
    base = {"iss": "bicameral-membership", "aud": "bicameral", "iat": now, "exp": now + 600}
    ring = TokenKeyRing.parse(target.member_keys)
    expired, _ = ring.issue(claims["sub"], 60, now=_past(3600))
    return {
        "payload swapped for the victim's": f"{header}.{_b64({**claims, 'sub': victim.lower()})}.{signature}",
        "signature stripped": f"{header}.{payload}.",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}."
        f"{_b64({**base, 'sub': victim.lower()})}.",
        "signed with another secret": jwt.encode(
            {**base, "sub": victim.lower()}, "guess" * 8, "HS256", headers={"kid": kid}
        ),
        "unknown key id": jwt.encode({**base, "sub": victim.lower()}, secret, "HS256", headers={"kid": "k9"}),
        "wrong issuer": jwt.encode(
            {**base, "iss": "someone", "sub": victim.lower()}, secret, "HS256", headers={"kid": kid}
        ),
        "wrong audience": jwt.encode(
            {**base, "aud": "other", "sub": victim.lower()}, secret, "HS256", headers={"kid": kid}
        ),
        "expired": expired,
        "internal identity used as a bearer token": jwt.encode(
            {"iss": "bicameral-gateway", "sub": victim.lower(), "exp": now + 60},
            target.internal_secret,
            "HS256",
        ),
        "garbage": "not.a.token",
    }


def _past(seconds: int):
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(seconds=seconds)


async def test_forged_tampered_and_expired_tokens_leave_the_caller_anonymous(
    gql: Gql, target: Target, fingerprint: Fingerprint, tally: Tally
):
    attacker = await gql.sign_in(Wallet.create("attacker"))
    victim = await gql.sign_in(Wallet.create("victim"))
    slug = f"tok-{int(time.time() * 1000) % 10**9}"
    org_input = {
        "slug": slug,
        "name": "Victim's",
        "purpose": "p",
        "stakeholders": [{"address": victim.address}],
        "topLevelCell": {"name": "TLC", "purpose": "p", "coreTeam": [{"address": victim.address}]},
    }
    await gql.ok("CreateOrganization", victim, input=org_input)
    await fingerprint.quiet()  # the other services have taken in the new organisation
    results = {}
    for name, token in forged_tokens(target, attacker.token, victim.address).items():
        before = await fingerprint.take()
        me = await gql.run("query { me { address } }", token=token)
        commit = await gql.run(
            'mutation($o: String!) { commitFunds(organization: $o, cycle: 0, amount: "1") '
            "{ userErrors { code } } }",
            {"o": slug},
            token,
        )
        code = commit["data"]["commitFunds"]["userErrors"][0]["code"]
        clean = (
            me["data"]["me"] is None
            and code == "UNAUTHENTICATED"
            and changed(before, await fingerprint.take()) == []
        )
        tally.record(SUITE, clean)
        results[name] = (me["data"]["me"], code)
    assert all(v == (None, "UNAUTHENTICATED") for v in results.values()), results


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Token abc", "bearer x.y.z", "Bearer " + "a" * 6000],
)
async def test_malformed_authorization_headers_leave_the_caller_anonymous(
    gql: Gql, tally: Tally, header: str
):
    r = await gql.post(
        {"query": FOUND_WITHOUT_VARIABLES},
        {"Authorization": header},
    )
    assert r.status_code == 200
    code = r.json()["data"]["createOrganization"]["userErrors"][0]["code"]
    tally.record(SUITE, code == "UNAUTHENTICATED")
    assert code == "UNAUTHENTICATED"


FOUND_WITHOUT_VARIABLES = (
    'mutation { createOrganization(input: {slug: "zz-zz", name: "n", purpose: "p", stakeholders: [], '
    'topLevelCell: {name: "t", purpose: "p", coreTeam: []}}) { userErrors { code } } }'
)


def test_sign_in_figures(tally: Tally):
    """Runs after the sign-in tests: every bad sign-in or token tried was refused cleanly."""
    figures = tally.figures(SUITE)
    report("security.sign_in_and_tokens", **figures)
    assert figures["tried"] >= 30
    assert figures["tried"] == figures["refused_cleanly"]
