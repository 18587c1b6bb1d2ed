"""The services' internal HTTP APIs fuzzed from their own OpenAPI documents (schemathesis), called as the
gateway calls them (with its trusted identity, for a real member, on real ids half of the time).

For every operation: valid-looking inputs and deliberately invalid ones. No answer may be a 5xx; every
refusal has the standard error shape with a known code; a refused write changes nothing in any database.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from kit import HTTP_STATUS, INTERNAL_HEADER, mint_internal_token
from tests.e2e.harness import Wallet
from tests.faults.figures import report
from tests.security.support import SERVICES, Fingerprint, Gql, Tally, Target, changed

pytestmark = [pytest.mark.e2e, pytest.mark.security, pytest.mark.timeout(240)]

SUITE = "internal_fuzz"
EXAMPLES = 3
T = TypeVar("T")


class Background:
    """An event loop on its own thread, so that synchronous hypothesis tests can await (the database)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
async def known(target: Target, fingerprint: Fingerprint) -> dict[str, str]:
    """Real ids for path parameters: an organisation whose only member is the fuzzing actor, a proposal."""
    gql = Gql(target)
    try:
        member = await gql.sign_in(Wallet.create("fuzzer"))
        slug = f"fuzz-{uuid.uuid4().hex[:8]}"
        org = (
            await gql.ok(
                "CreateOrganization",
                member,
                input={
                    "slug": slug,
                    "name": "Fuzz",
                    "purpose": "p",
                    "stakeholders": [{"address": member.address}],
                    "topLevelCell": {
                        "name": "TLC",
                        "purpose": "p",
                        "coreTeam": [{"address": member.address}],
                    },
                    "policy": {"votingPeriodSeconds": 3600, "reviewPeriodSeconds": 3600},
                },
            )
        )["organization"]
        proposal = await gql.propose(
            member,
            {
                "bodyId": org["stakeholderGroup"]["id"],
                "kind": "STAKEHOLDER",
                "title": "t",
                "description": "d",
            },
        )
        await fingerprint.quiet()
        return {
            "actor": member.address.lower(),
            "slug": slug,
            "organization_id": org["id"],
            "body_id": org["topLevelCell"]["id"],
            "address": member.address,
            "proposal_id": proposal,
        }
    finally:
        await gql.close()


@pytest.fixture(scope="module")
def background() -> Iterator[Background]:
    bg = Background()
    yield bg
    bg.close()


def sendable(kwargs: dict[str, Any]) -> dict[str, Any]:
    """schemathesis' request (made for `requests`) as httpx takes it: nested query values as JSON text, raw
    bodies as content."""
    params = kwargs.get("params") or {}
    flat = {}
    for key, value in params.items():
        items = value if isinstance(value, list) else [value]
        flat[key] = [v if isinstance(v, str | int | float | bool) else json.dumps(v) for v in items]
    out = {k: v for k, v in kwargs.items() if k not in ("params", "cookies")}
    out["params"] = flat
    if isinstance(out.get("data"), bytes | str):
        out["content"] = out.pop("data")
    return out


_CONSTRAINTS = ("integer", "number", "boolean", "enum", "minimum", "maximum", "Length", "pattern", "format")


def negatable(operation: Any) -> bool:
    """Whether an invalid input exists for the operation: a body, or a query parameter constrained beyond
    "a string" (in a URL every path segment and plain string parameter is as valid as any other)."""
    if operation.body.items:
        return True
    return any(
        p.location.value == "query"
        and any(c in json.dumps(p.definition.get("schema", {})) for c in _CONSTRAINTS)
        for p in operation.iter_parameters()
    )


def examples(strategy: Any, each: Any) -> bool:
    """Run `each` on `EXAMPLES` cases drawn from `strategy` (deterministically: the same cases every run);
    False when the strategy has no case to give (an operation with nothing to make invalid)."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        each(case)

    try:
        run()
    except Unsatisfiable:
        return False
    return True


def test_internal_apis_fuzzed_from_their_openapi_never_fail_and_change_nothing_when_they_refuse(
    target: Target, known: dict[str, str], background: Background, tally: Tally
):
    fp = background.run(Fingerprint(target).open())
    failures: list[str] = []
    counts = {
        "operations": 0,
        "requests": 0,
        "unsendable": 0,
        "accepted": 0,
        "refused": 0,
        "nothing_to_negate": 0,
        "framework_error_shape": 0,
    }
    http = httpx.Client(timeout=10)

    def call(service: str, case: Any, negative: bool) -> None:
        base = target.platform.url(service)
        headers = {INTERNAL_HEADER: mint_internal_token(target.internal_secret, known["actor"])}
        try:
            kwargs = sendable(case.as_transport_kwargs(base_url=base, headers=headers))
            request = http.build_request(**kwargs)
        except (TypeError, ValueError, UnicodeEncodeError, httpx.HTTPError):
            counts["unsendable"] += 1
            return
        writes = request.method != "GET"
        # a refusal could only change the called service's database synchronously
        before = background.run(fp.take(service)) if writes else None
        try:
            r = http.send(request)
        except httpx.HTTPError as exc:
            failures.append(f"{case.operation.label}: {exc!r}")
            return
        counts["requests"] += 1
        target.responses.append(r.text)
        label = f"{case.operation.label} -> {r.status_code} {r.text[:160]}"
        if r.status_code >= 500:
            failures.append(label)
            tally.record(SUITE, False) if negative else None
            return
        if r.status_code < 400:
            counts["accepted"] += 1
            if writes:
                background.run(fp.settled())  # what it set off elsewhere is done before the next check
            return
        counts["refused"] += 1
        try:
            body = r.json()
        except ValueError:
            body = None
        code = (
            body["error"].get("code")
            if isinstance(body, dict) and isinstance(body.get("error"), dict)
            else None
        )
        if code is None and isinstance(body, dict) and "detail" in body:
            # FastAPI's own answer to a body it cannot parse, outside the kit's error handler: a refusal all
            # the same, counted so the report shows it (the kit's handler should render it; see the report)
            counts["framework_error_shape"] += 1
            code = "INVALID_INPUT"
        clean = code in HTTP_STATUS and (
            not writes or changed(before, background.run(fp.take(service))) == []
        )
        if negative:
            tally.record(SUITE, clean)
        if not clean:
            failures.append(f"unclean refusal: {label}")

    try:
        for service in SERVICES:
            background.run(fp.settled())
            schema = schemathesis.openapi.from_dict(
                http.get(f"{target.platform.url(service)}/openapi.json").json()
            )
            for result in schema.get_all_operations():
                operation = result.ok()
                if not operation.path.startswith("/v1"):
                    continue
                counts["operations"] += 1
                names = {p.name for p in operation.iter_parameters() if p.location == "path"}
                runs: list[tuple[GenerationMode, dict[str, str] | None]] = [(GenerationMode.POSITIVE, None)]
                if negatable(operation):
                    runs.append((GenerationMode.NEGATIVE, None))
                if names:
                    runs.append((GenerationMode.POSITIVE, {n: known[n] for n in names if n in known}))
                for mode, path_parameters in runs:
                    strategy = operation.as_strategy(
                        generation_mode=mode, path_parameters=path_parameters or None
                    )
                    if not examples(
                        strategy, lambda case, s=service, n=mode is GenerationMode.NEGATIVE: call(s, case, n)
                    ):
                        counts["nothing_to_negate"] += 1
    finally:
        http.close()
        background.run(fp.close())
    report("security.internal_fuzz", **counts, **tally.figures(SUITE), failures=len(failures))
    assert failures == [], "\n".join(failures[:20])
    assert counts["operations"] >= 20
    assert counts["requests"] > 100
    assert tally.figures(SUITE)["tried"] == tally.figures(SUITE)["refused_cleanly"]
