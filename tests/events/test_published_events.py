"""What other DAOs receive: the real services, driven through one organisation's life until every event
type of the contract has been published, read back from JetStream.

Every message is a CloudEvents document valid under its type's schema in events/schemas/, on the subject
its type names, with per-aggregate sequences that count 1, 2, 3 … in stream order; and a subscriber
replaying from a stream sequence or a time gets a proposal's whole history, in order.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from events import validators
from kit.testing import FakeClock, eventually
from tests.events.platform import Services, address, running_services

DAY = 86_400
T0 = datetime(2030, 1, 1, tzinfo=UTC)
STAKEHOLDERS = [address(n) for n in (1, 2, 3)]
CORE = [address(n) for n in (11, 12, 13)]
NEWCOMER, CELL_LEAD = address(21), address(22)
POLICY = {
    "votingPeriodSeconds": 3600,
    "reviewPeriodSeconds": 3600,
    "concernExtensionSeconds": 600,
    "vetoThresholdPercent": 50,
    "quorumPercent": 20,
    "policyDelaySeconds": 600,
    "cycleLengthSeconds": 30 * DAY,
}

# contract/events.md's proposal events and vote.cast, and the review, operation, membership, funds,
# body, organization and policy events docs/internal-api.md lists
CONTRACT_TYPES = {
    f"governance.{name}.v1"
    for name in [
        "proposal.created",
        "proposal.voting_closed",
        "proposal.defeated",
        "proposal.expired",
        "proposal.review_started",
        "proposal.concern_raised",
        "proposal.objection_recorded",
        "proposal.blocked",
        "proposal.queued",
        "proposal.enactment_requested",
        "proposal.enacted",
        "proposal.failed",
        "proposal.cancelled",
        "vote.cast",
        "policy.module_changed",
        "policy.updated",
        "review.started",
        "review.concern_raised",
        "review.objection_recorded",
        "review.blocked",
        "review.approved",
        "review.cancelled",
        "operation.queued",
        "operation.ready",
        "operation.expired",
        "organization.created",
        "organization.cycles_changed",
        "organization.actions_applied",
        "organization.actions_rejected",
        "body.created",
        "body.cell_state_set",
        "membership.joined",
        "membership.left",
        "membership.weight_changed",
        "funds.committed",
        "funds.withdrawn",
        "funds.budget_allocated",
    ]
}
# a review's operation continues the review's sequence (kit.outbox.sequence_key)
SEQUENCE_FAMILY = {"operation": "review"}


@dataclass
class Message:
    """One message as a subscriber reads it: stream sequence, NATS subject, headers, CloudEvent."""

    seq: int
    subject: str
    headers: dict[str, str]
    event: dict[str, Any]
    stored_at: datetime


@dataclass
class Story:
    services: Services
    org: dict[str, Any]
    proposals: dict[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.org["slug"]


async def read_stream(nats_url: str, stream: str, subject: str, **config: Any) -> list[Message]:
    """Everything a fresh (ephemeral, unacknowledged) consumer of `subject` gets, in order."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            subject,
            stream=stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.NONE, **({"deliver_policy": DeliverPolicy.ALL} | config)
            ),
        )
        out: list[Message] = []
        while True:
            try:
                msgs = await sub.fetch(500, timeout=0.5)
            except TimeoutError:
                break
            for m in msgs:
                meta = m.metadata
                out.append(
                    Message(
                        meta.sequence.stream,
                        m.subject,
                        dict(m.headers or {}),
                        json.loads(m.data),
                        meta.timestamp,
                    )
                )
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


# --- the story ---------------------------------------------------------------------------------------


async def propose(s: Services, who: str, body: str, kind: str, actions: list | None = None) -> str:
    created = await s.call(
        "proposals",
        "POST",
        "/v1/proposals",
        who,
        {
            "bodyId": body,
            "kind": kind,
            "title": f"A {kind.lower()} proposal",
            "description": "",
            "actions": actions or [],
        },
    )
    return created["id"]


async def vote(s: Services, proposal: str, voters: list[str], choice: str = "FOR") -> None:
    for voter in voters:
        await s.call("proposals", "POST", f"/v1/proposals/{proposal}/votes", voter, {"choice": choice})


async def review_opened(s: Services, proposal: str) -> None:
    async def opened() -> bool:
        async with s.client("timelock", None) as client:
            return (await client.get(f"/v1/reviews/by-proposal/{proposal}")).status_code == 200

    await eventually(opened, within=20)


async def published(s: Services, slug: str, tail: str) -> list[Message]:
    return await read_stream(s.nats_url, s.stream, f"{s.prefix}.{slug}.{tail}")


async def tell(s: Services) -> Story:
    org = await s.call(
        "membership",
        "POST",
        "/v1/organizations",
        STAKEHOLDERS[0],
        {
            "slug": "events-org",
            "name": "Events",
            "purpose": "Publish everything",
            "stakeholders": [{"address": a} for a in STAKEHOLDERS],
            "topLevelCell": {
                "name": "TLC",
                "purpose": "Run things",
                "coreTeam": [{"address": a} for a in CORE],
            },
            "policy": POLICY,
        },
    )
    story = Story(s, org)
    shg, tlc = org["stakeholderGroupId"], org["topLevelCellId"]
    p = story.proposals
    await s.call(
        "membership",
        "POST",
        "/v1/organizations/events-org/commitments",
        STAKEHOLDERS[0],
        {"cycle": 0, "amount": "100"},
    )
    await s.call(
        "membership",
        "POST",
        "/v1/organizations/events-org/commitments",
        STAKEHOLDERS[1],
        {"cycle": 1, "amount": "7"},
    )

    # defeated, cancelled while voting, left to expire
    p["defeated"] = await propose(s, CORE[0], tlc, "OPERATIONAL")
    await vote(s, p["defeated"], CORE[:2], "AGAINST")
    p["cancelled"] = await propose(s, CORE[0], tlc, "OPERATIONAL")
    await s.call("proposals", "POST", f"/v1/proposals/{p['cancelled']}/cancel", CORE[0])
    p["expired"] = await propose(s, STAKEHOLDERS[0], shg, "STAKEHOLDER")

    # a review with a concern and enough objections to block
    p["blocked"] = await propose(s, CORE[0], tlc, "OPERATIONAL")
    await vote(s, p["blocked"], CORE[:2])
    await review_opened(s, p["blocked"])
    await s.call(
        "timelock",
        "POST",
        f"/v1/reviews/by-proposal/{p['blocked']}/concerns",
        STAKEHOLDERS[0],
        {"reason": "why now?"},
    )
    for objector in STAKEHOLDERS[:2]:
        await s.call("timelock", "POST", f"/v1/reviews/by-proposal/{p['blocked']}/objections", objector, {})
    await s.until_status(p["blocked"], "BLOCKED")

    # a review cancelled by its proposer
    p["withdrawn"] = await propose(s, CORE[1], tlc, "OPERATIONAL")
    await vote(s, p["withdrawn"], CORE[:2])
    await review_opened(s, p["withdrawn"])
    await s.call("proposals", "POST", f"/v1/proposals/{p['withdrawn']}/cancel", CORE[1])

    # reviews that pass: a budget, a new cell with a newcomer; then the same newcomer again, too late
    p["budget"] = await propose(
        s, CORE[0], tlc, "BUDGET", [{"allocateBudget": {"cellId": tlc, "cycle": 0, "amount": "10"}}]
    )
    p["grown"] = await propose(
        s,
        CORE[0],
        tlc,
        "OPERATIONAL",
        [
            {
                "createCell": {
                    "parentId": tlc,
                    "name": "Garden",
                    "purpose": "Grow",
                    "coreTeam": [{"address": CELL_LEAD}],
                }
            },
            {"addMember": {"bodyId": tlc, "address": NEWCOMER, "role": "CONTRIBUTOR"}},
        ],
    )
    p["failed"] = await propose(
        s,
        CORE[0],
        tlc,
        "OPERATIONAL",
        [{"addMember": {"bodyId": tlc, "address": NEWCOMER, "role": "CONTRIBUTOR"}}],
    )
    for key in ("budget", "grown"):
        await vote(s, p[key], CORE[:2])
        await review_opened(s, p[key])
    # the TLC's Cell State, approved by the Stakeholder Group
    p["cell_state"] = await propose(
        s,
        CORE[0],
        tlc,
        "CELL_STATE",
        [
            {
                "setCellState": {
                    "cellId": tlc,
                    "purpose": "Run things",
                    "strategy": "Slowly",
                    "agreements": ["Be kind"],
                }
            }
        ],
    )
    await vote(s, p["cell_state"], STAKEHOLDERS[:2])
    await s.until_status(p["cell_state"], "ENACTED")
    await s.advance(1)
    await vote(s, p["failed"], CORE[:2])
    await review_opened(s, p["failed"])

    await s.advance(3600)
    await s.until_status(p["expired"], "EXPIRED")
    await s.until_status(p["budget"], "ENACTED")
    await s.until_status(p["grown"], "ENACTED")
    await s.advance(1)
    await s.until_status(p["failed"], "FAILED")

    # a policy change: queued for its delay; ready, and expired while the proposals service is down
    p["policy"] = await propose(
        s,
        STAKEHOLDERS[0],
        shg,
        "POLICY",
        [{"updatePolicy": {"stakeholderWeighting": "COMMITTED_FUNDS", "cycleLengthSeconds": 60 * DAY}}],
    )
    await vote(s, p["policy"], STAKEHOLDERS[:2])
    await eventually(lambda: _has_enact_after(s, p["policy"]), within=20)
    await s.stop("proposals")
    await s.advance(601)
    await eventually(lambda: published(s, story.slug, "operation.ready"), within=20)
    await s.advance(15 * DAY)
    await eventually(lambda: published(s, story.slug, "operation.expired"), within=20)
    await s.start("proposals")
    await s.until_status(p["policy"], "ENACTED", "FAILED")
    await eventually(lambda: published(s, story.slug, "organization.cycles_changed"), within=20)

    # a stakeholder leaves with the funds pledged to a cycle not started
    await s.call("membership", "POST", f"/v1/bodies/{shg}/leave", STAKEHOLDERS[1])
    await s.settled()
    return story


async def _has_enact_after(s: Services, proposal: str) -> bool:
    return (await s.proposal(proposal))["enactAfter"] is not None


@pytest.fixture(scope="module")
async def story(infra: Any) -> AsyncIterator[Story]:
    async with running_services(infra.database_url, infra.nats_url, FakeClock(T0)) as services:
        yield await tell(services)


@pytest.fixture(scope="module")
async def messages(story: Story) -> list[Message]:
    s = story.services
    return await read_stream(s.nats_url, s.stream, f"{s.prefix}.{story.slug}.>")


# --- what a subscriber sees ----------------------------------------------------------------------------


async def test_every_contract_event_type_is_published(messages: list[Message]) -> None:
    seen = {m.event["type"] for m in messages}

    assert CONTRACT_TYPES - seen == set()


async def test_every_published_event_is_valid_under_its_types_schema(messages: list[Message]) -> None:
    schemas = validators()
    for m in messages:
        assert m.event["type"] in schemas, f"no schema for {m.event['type']}"
        errors = [e.message for e in schemas[m.event["type"]].iter_errors(m.event)]
        assert errors == [], (m.event["type"], errors)


async def test_subject_header_and_type_agree(story: Story, messages: list[Message]) -> None:
    prefix = story.services.prefix
    for m in messages:
        _, aggregate, event, version = m.event["type"].split(".")
        assert m.subject == f"{prefix}.{story.slug}.{aggregate}.{event}"
        assert version == "v1"
        assert m.headers["Nats-Msg-Id"] == m.event["id"]
        assert m.event["data"]["organization"] == story.slug
        assert m.event["data"]["organizationId"] == story.org["id"]
    assert len({m.event["id"] for m in messages}) == len(messages)


async def test_each_aggregate_counts_its_sequence_one_by_one_in_stream_order(messages: list[Message]) -> None:
    sequences: dict[tuple[str, str], list[int]] = defaultdict(list)
    for m in messages:
        aggregate = m.event["type"].split(".")[1]
        sequences[(SEQUENCE_FAMILY.get(aggregate, aggregate), m.event["subject"])].append(
            m.event["data"]["sequence"]
        )

    for key, seen in sequences.items():
        assert seen == list(range(1, len(seen) + 1)), key


async def test_a_proposals_events_tell_its_history_in_order(story: Story, messages: list[Message]) -> None:
    blocked = story.proposals["blocked"]
    mine = [
        m.event
        for m in messages
        if m.event["subject"] == f"proposals/{blocked}" and m.event["type"].startswith("governance.proposal.")
    ]

    assert [e["type"].split(".")[2] for e in mine] == [
        "created",
        "voting_closed",
        "review_started",
        "concern_raised",
        "objection_recorded",
        "objection_recorded",
        "blocked",
    ]
    history = await story.services.call("proposals", "GET", f"/v1/proposals/{blocked}/history", None)
    assert [h["status"] for h in history["items"]] == ["VOTING", "IN_REVIEW", "BLOCKED"]


# --- replay ------------------------------------------------------------------------------------------


async def test_replay_from_a_stream_sequence_returns_a_proposals_whole_history_in_order(
    story: Story, messages: list[Message]
) -> None:
    s, proposal = story.services, story.proposals["grown"]
    first = next(m.seq for m in messages if m.event["data"].get("proposalId") == proposal)

    replayed = await read_stream(
        s.nats_url,
        s.stream,
        f"{s.prefix}.{story.slug}.>",
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=first,
    )

    expected = [
        m.event["id"] for m in messages if m.seq >= first and m.event["data"].get("proposalId") == proposal
    ]
    got = [m.event for m in replayed if m.event["data"].get("proposalId") == proposal]
    assert [e["id"] for e in got] == expected
    assert got[0]["type"] == "governance.proposal.created.v1"
    assert got[-1]["type"] == "governance.proposal.enacted.v1"
    own = [e["data"]["sequence"] for e in got if e["type"].startswith("governance.proposal.")]
    assert own == list(range(1, len(own) + 1))


async def test_replay_from_a_time_returns_everything_stored_since(
    story: Story, messages: list[Message]
) -> None:
    s = story.services
    middle = messages[len(messages) // 2]
    # a consumer's timestamps are rounded to the microsecond: start a little earlier, as docs/events.md says
    since = middle.stored_at - timedelta(milliseconds=1)

    replayed = await read_stream(
        s.nats_url,
        s.stream,
        f"{s.prefix}.{story.slug}.>",
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=since,
    )

    ids, got = [m.event["id"] for m in messages], [m.event["id"] for m in replayed]
    skipped = messages[: len(ids) - len(got)]
    assert got == ids[len(skipped) :]  # everything from one point of the stream on
    assert middle.event["id"] in got
    assert all(m.stored_at <= since + timedelta(microseconds=1) for m in skipped)
