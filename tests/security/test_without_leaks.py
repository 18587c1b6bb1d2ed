"""No secret, token or stack trace in any response or log line.

Runs last in the package (the modules run in name order): it scans every answer the security tests
received and the four processes' logs since they started, after provoking the failures most likely to
leak (bad tokens and signatures, calls without identity, unparsable bodies).
"""

from __future__ import annotations

import re

import httpx
import pytest

from kit import INTERNAL_HEADER, mint_internal_token
from tests.e2e.harness import Wallet
from tests.faults.figures import report
from tests.security.support import SERVICES, Gql, Target

pytestmark = [pytest.mark.e2e, pytest.mark.security]

TRACE = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")


async def provoke(gql: Gql, target: Target) -> None:
    wallet = await gql.sign_in(Wallet.create("leaky"))
    message = (await gql.op("SignInChallenge", address=wallet.address))["data"]["signInChallenge"]
    await gql.op("SignIn", message=message, signature=Wallet.create().sign(message))
    await gql.run("{ me { address } }", token=wallet.token[:-4] + "AAAA")
    await gql.run('mutation { leaveBody(bodyId: "x") { userErrors { code } } }', token="Bearer.not.a.token")
    await gql.post(None, content=b'{"query": ')
    internal = mint_internal_token(target.internal_secret, wallet.address)
    async with httpx.AsyncClient(timeout=10) as http:
        for service in SERVICES:
            base = target.platform.url(service)
            for headers in ({}, {INTERNAL_HEADER: internal[:-3] + "abc"}, {INTERNAL_HEADER: internal}):
                for r in (
                    await http.post(f"{base}/v1/organizations", headers=headers, content=b"{not json"),
                    await http.get(f"{base}/v1/bodies/{'9' * 40}", headers=headers),
                ):
                    target.responses.append(r.text)


def secrets_of(target: Target) -> dict[str, str]:
    out = {"INTERNAL_AUTH_SECRET": target.internal_secret}
    for i, pair in enumerate(target.member_keys.split(",")):
        out[f"AUTH_TOKEN_KEYS[{i}]"] = pair.split(":", 1)[1]
    return out


async def test_no_secret_token_or_stack_trace_reaches_a_response_or_a_log(gql: Gql, target: Target):
    await provoke(gql, target)
    secrets = secrets_of(target)
    leaks: list[str] = []
    for i, text in enumerate(target.responses):
        for name, value in secrets.items():
            if value in text:
                leaks.append(f"response {i} carries {name}")
        if TRACE.search(text):
            leaks.append(f"response {i} carries a stack trace: {text[:200]}")
        # a token is in the sign-in answer that issues it, and nowhere else
        if '"signIn"' not in text:
            leaks += [f"response {i} carries a bearer token" for t in target.tokens if t and t in text]
    logs = target.logs()
    lines = 0
    for process, text in logs.items():
        lines += text.count("\n")
        for name, value in secrets.items():
            if value in text:
                leaks.append(f"{process} log carries {name}")
        leaks += [f"{process} log carries a bearer token" for t in target.tokens if t and t in text]
        for match in TRACE.finditer(text):
            start = max(0, match.start() - 300)
            leaks.append(f"{process} log carries a stack trace: …{text[start : match.end() + 200]}")
    report(
        "security.leaks",
        responses_scanned=len(target.responses),
        log_lines_scanned=lines,
        tokens_watched=len(target.tokens),
        leaks=len(leaks),
    )
    assert set(logs) == {*SERVICES, "gateway"}
    assert len(target.responses) > 10
    assert leaks == [], "\n".join(leaks[:10])
