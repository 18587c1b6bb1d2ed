"""Hostile GraphQL: deep, wide, batched, huge, malformed and unknown. Each is refused cleanly: a 4xx or a
GraphQL error or user error with a stable code, within seconds, never a 5xx, and nothing changes.

The caller is signed in and sits in the SHG and the TLC core team of its own organisation, so that
mutations get past authorisation and reach the services' validation.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.harness import Wallet
from tests.faults.figures import report
from tests.security.support import Fingerprint, Gql, Tally, Target, changed

pytestmark = [pytest.mark.e2e, pytest.mark.security]

SUITE = "hostile_graphql"


@dataclass
class Attacker:
    wallet: Wallet
    slug: str
    tlc_id: str
    shg_id: str


@pytest.fixture(scope="module")
async def attacker(target: Target, fingerprint: Fingerprint) -> AsyncIterator[Attacker]:
    gql = Gql(target)
    try:
        wallet = await gql.sign_in(Wallet.create("attacker"))
        slug = f"hostile-{uuid.uuid4().hex[:8]}"
        org = (
            await gql.ok(
                "CreateOrganization",
                wallet,
                input={
                    "slug": slug,
                    "name": "Hostile",
                    "purpose": "p",
                    "stakeholders": [{"address": wallet.address}],
                    "topLevelCell": {
                        "name": "TLC",
                        "purpose": "p",
                        "coreTeam": [{"address": wallet.address}],
                    },
                },
            )
        )["organization"]
        await fingerprint.quiet()
        yield Attacker(wallet, slug, org["topLevelCell"]["id"], org["stakeholderGroup"]["id"])
    finally:
        await gql.close()


def nested(field: str, depth: int, leaf: str = "id") -> str:
    return "".join(f"{field} {{ " for _ in range(depth)) + leaf + " }" * depth


def proposal(a: Attacker, **overrides: Any) -> dict[str, Any]:
    base = {"bodyId": a.tlc_id, "kind": "OPERATIONAL", "title": "t", "description": "d", "actions": []}
    return {"query": CREATE, "variables": {"input": {**base, **overrides}}}


CREATE = (
    "mutation($input: CreateProposalInput!) { createProposal(input: $input) "
    "{ proposal { id } userErrors { field code message } } }"
)
COMMIT = (
    "mutation($o: String!, $c: Int!, $a: Decimal!) "
    "{ commitFunds(organization: $o, cycle: $c, amount: $a) { userErrors { code } } }"
)
FOUND = (
    "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { userErrors { code } } }"
)
CONCERN = (
    "mutation($p: ID!, $r: String!) { raiseConcern(proposalId: $p, reason: $r) { userErrors { code } } }"
)

# name -> what to send: a JSON body (dict or list), or raw bytes with a content type, or a GET query string
Attack = Callable[[Attacker], dict[str, Any]]
ATTACKS: dict[str, Attack] = {
    "depth 40": lambda a: {
        "json": {
            "query": f'{{ organization(slug: "{a.slug}") {{ topLevelCell {{ {nested("children", 40)} }} }} }}'
        }
    },
    "60 aliases": lambda a: {
        "json": {"query": "{ " + " ".join(f"a{i}: me {{ address }}" for i in range(60)) + " }"}
    },
    "aliases hidden in fragments": lambda a: {
        "json": {
            "query": "query { ...A ...B ...C } "
            + " ".join(
                f"fragment {f} on Query {{ " + " ".join(f"{f}{i}: me {{ address }}" for i in range(10)) + " }"
                for f in "ABC"
            )
        }
    },
    "batch of 50 operations": lambda a: {"json": [{"query": "{ me { address } }"}] * 50},
    "5000 tokens": lambda a: {"json": {"query": "{ me { " + "address " * 5000 + "} }"}},
    "a page of a million": lambda a: {
        "json": {
            "query": f'{{ proposals(organization: "{a.slug}", first: 1000000) '
            "{ totalCount edges { node { id } } } }"
        }
    },
    "a negative page": lambda a: {
        "json": {"query": f'{{ proposals(organization: "{a.slug}", first: -5) {{ totalCount }} }}'}
    },
    "20000 stakeholders": lambda a: {
        "json": {
            "query": FOUND,
            "variables": {
                "input": {
                    "slug": "huge-list",
                    "name": "n",
                    "purpose": "p",
                    "stakeholders": [{"address": "0x" + f"{i:040x}"} for i in range(20000)],
                    "topLevelCell": {"name": "t", "purpose": "p", "coreTeam": []},
                }
            },
        }
    },
    "a 200 kB title": lambda a: {"json": proposal(a, title="x" * 200_000)},
    "a 10 kB title": lambda a: {"json": proposal(a, title="x" * 10_000)},
    "60 actions": lambda a: {
        "json": proposal(a, actions=[{"removeMember": {"bodyId": a.tlc_id, "address": "0x" + "1" * 40}}] * 60)
    },
    "a NUL byte in a title": lambda a: {"json": proposal(a, title="nul\u0000byte")},
    "a NUL byte in a description": lambda a: {"json": proposal(a, description="\u0000")},
    "a lone surrogate in a title": lambda a: {
        "raw": json.dumps(proposal(a, title="bad \ud800 text")).encode()
    },
    "a lone surrogate in a concern": lambda a: {
        "raw": json.dumps(
            {
                "query": CONCERN,
                "variables": {"p": str(uuid.uuid4()), "r": "\udfff"},
            }
        ).encode()
    },
    "an unknown field": lambda a: {"json": {"query": "{ me { address password } }"}},
    "an unknown argument": lambda a: {"json": {"query": "{ me(admin: true) { address } }"}},
    "an unknown type": lambda a: {
        "json": {"query": "query($x: Secret) { me { address } }", "variables": {"x": 1}}
    },
    "an unknown operation name": lambda a: {"json": {"query": "{ me { address } }", "operationName": "Nope"}},
    "a fragment cycle": lambda a: {
        "json": {"query": "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"}
    },
    "a repeated directive": lambda a: {
        "json": {"query": "{ me " + "@include(if: true) " * 100 + "{ address } }"}
    },
    "an enum that does not exist": lambda a: {"json": proposal(a, kind="ROOT")},
    "a string for a list": lambda a: {"json": proposal(a, actions="drop table")},
    "two actions in one": lambda a: {
        "json": proposal(
            a,
            actions=[
                {
                    "removeMember": {"bodyId": a.tlc_id, "address": "0x" + "1" * 40},
                    "addMember": {"bodyId": a.tlc_id, "address": "0x" + "1" * 40, "role": "CORE_TEAM"},
                }
            ],
        )
    },
    "an Int beyond 64 bits": lambda a: {
        "json": {"query": COMMIT, "variables": {"o": a.slug, "c": 10**30, "a": "1"}}
    },
    "an amount of 1e999999": lambda a: {
        "json": {"query": COMMIT, "variables": {"o": a.slug, "c": 0, "a": "1e999999"}}
    },
    "an amount of NaN": lambda a: {"json": {"query": COMMIT, "variables": {"o": a.slug, "c": 0, "a": "NaN"}}},
    "an amount of -Infinity": lambda a: {
        "json": {"query": COMMIT, "variables": {"o": a.slug, "c": 0, "a": "-Infinity"}}
    },
    "an amount with 40 decimals": lambda a: {
        "json": {"query": COMMIT, "variables": {"o": a.slug, "c": 0, "a": "0." + "1" * 40}}
    },
    "a negative amount": lambda a: {"json": {"query": COMMIT, "variables": {"o": a.slug, "c": 0, "a": "-5"}}},
    "a cycle in the past": lambda a: {
        "json": {"query": COMMIT, "variables": {"o": a.slug, "c": -1, "a": "5"}}
    },
    "an id that is a path": lambda a: {
        "json": {"query": '{ proposal(id: "../../v1/organizations") { id } }'}
    },
    "a slug with a path": lambda a: {
        "json": {"query": '{ organization(slug: "../../../etc/passwd") { id } }'}
    },
    "a vote on a path": lambda a: {
        "json": {
            "query": "mutation($p: ID!) { castVote(proposalId: $p, choice: FOR) { userErrors { code } } }",
            "variables": {"p": "../organizations?ids="},
        }
    },
    "variables nested 20000 deep": lambda a: {
        "raw": b'{"query": "{ me { address } }", "variables": {"x": ' + b"[" * 20000 + b"]" * 20000 + b"}}"
    },
    "a document nested 5000 deep": lambda a: {
        "json": {"query": "{ me " + "{ address " * 5000 + "}" * 5000 + " }"}
    },
    "malformed JSON": lambda a: {"raw": b'{"query": "{ me { address } }"'},
    "not JSON at all": lambda a: {"raw": b"\xff\xfe\x00garbage"},
    "a mutation over GET": lambda a: {
        "get": {"query": 'mutation { signInChallenge(address: "0x' + "1" * 40 + '") }'}
    },
    "a mutation as text/plain (cross-site)": lambda a: {
        "raw": json.dumps(proposal(a)).encode(),
        "content_type": "text/plain",
    },
    "a subscription over HTTP": lambda a: {
        "json": {"query": f'subscription {{ proposalEvents(organization: "{a.slug}") {{ id }} }}'}
    },
    "introspection nested 30 deep": lambda a: {
        "json": {"query": "{ __schema { types { " + "fields { type { " * 15 + "name" + " } }" * 15 + " } } }"}
    },
}


FAILURES = ("INTERNAL", "UNAVAILABLE")  # the platform failing, not refusing


def refused_cleanly(status: int, body: Any) -> bool:
    """A 4xx, GraphQL errors with messages, a mutation's user errors, or (for a read of something that
    cannot exist) null: anything but an accepted call, a 5xx or an internal failure dressed as an answer."""
    if 400 <= status < 500:
        return True
    if status != 200 or not isinstance(body, dict):
        return False
    if body.get("errors"):
        return all(
            isinstance(e.get("message"), str)
            and e["message"]
            and (e.get("extensions") or {}).get("code") not in FAILURES
            for e in body["errors"]
        )
    payloads = list((body.get("data") or {}).values())
    if payloads and all(p is None for p in payloads):
        return True
    codes = [e.get("code") for p in payloads if isinstance(p, dict) for e in p.get("userErrors") or []]
    return bool(codes) and not set(codes) & set(FAILURES)


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_hostile_request_is_refused_cleanly(
    name: str, attacker: Attacker, gql: Gql, fingerprint: Fingerprint, tally: Tally, target: Target
):
    attack = ATTACKS[name](attacker)
    headers = {"Authorization": f"Bearer {attacker.wallet.token}"}
    before = await fingerprint.take()
    started = time.monotonic()
    if "get" in attack:
        r = await gql.http.get(target.graphql_url, params=attack["get"], headers=headers)
        target.responses.append(r.text)
    elif "raw" in attack:
        r = await gql.http.post(
            target.graphql_url,
            content=attack["raw"],
            headers={**headers, "content-type": attack.get("content_type", "application/json")},
        )
        target.responses.append(r.text)
    else:
        r = await gql.post(attack["json"], headers)
    seconds = time.monotonic() - started
    try:
        body = r.json()
    except ValueError:
        body = r.text
    clean = r.status_code < 500 and seconds < 5 and refused_cleanly(r.status_code, body)
    unchanged = changed(before, await fingerprint.take()) == []
    tally.record(SUITE, clean and unchanged)
    assert r.status_code < 500, f"{r.status_code}: {str(body)[:300]}"
    assert seconds < 5
    assert refused_cleanly(r.status_code, body), str(body)[:500]
    assert unchanged


def test_hostile_graphql_figures(tally: Tally):
    """Runs after the attacks: each was refused cleanly."""
    figures = tally.figures(SUITE)
    report("security.hostile_graphql", **figures)
    assert figures["tried"] == len(ATTACKS)
    assert figures["tried"] == figures["refused_cleanly"]
