"""Polls (seed 002: "frequent polls on low-context design parameters, open to any community member's
input"): non-binding questions with single or multiple choice, a deadline and results.

A poll is open to every current member of the organisation (any role in any body), or to the members of
one body. One member, one answer (no weights: a poll measures opinion, it decides nothing); a member may
change their answer while the poll is open. Results are public and live. A poll may be linked to a
proposal as evidence and is then shown with it.

    OPEN ──closesAt reached (durable deadline)──▶ CLOSED
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from kit import Conflict, Forbidden, InvalidInput, VotingClosed

from .organization import checksum

MAX_QUESTION = 500
MAX_OPTION = 200
MIN_OPTIONS, MAX_OPTIONS = 2, 20
MAX_POLL_SECONDS = 365 * 86_400


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class PollEvent:
    name: str
    data: dict[str, Any]


@dataclass
class Poll:
    id: UUID
    organization_id: UUID
    organization_slug: str
    body_id: UUID | None
    question: str
    options: tuple[str, ...]
    multiple: bool
    created_by: str
    created_at: datetime
    closes_at: datetime
    proposal_id: UUID | None = None
    closed_at: datetime | None = None
    counts: list[int] = field(default_factory=list)
    voter_count: int = 0
    events: list[PollEvent] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def _record(self, name: str, data: dict[str, Any]) -> None:
        self.events.append(PollEvent(name, {"pollId": str(self.id), **data}))

    def pull_events(self) -> list[PollEvent]:
        events, self.events = self.events, []
        return events

    def results(self) -> list[dict[str, Any]]:
        return [{"option": o, "count": c} for o, c in zip(self.options, self.counts, strict=True)]

    @classmethod
    def create(
        cls,
        *,
        id: UUID,
        organization_id: UUID,
        organization_slug: str,
        body_id: UUID | None,
        question: Any,
        options: Any,
        multiple: Any,
        closes_at: datetime,
        created_by: str,
        proposal_id: UUID | None,
        now: datetime,
    ) -> Poll:
        if not isinstance(question, str) or not question.strip():
            raise InvalidInput("a question is required", field="question")
        if len(question.strip()) > MAX_QUESTION:
            raise InvalidInput(f"the question is longer than {MAX_QUESTION} characters", field="question")
        if not isinstance(options, list | tuple) or not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
            raise InvalidInput(f"a poll has {MIN_OPTIONS} to {MAX_OPTIONS} options", field="options")
        cleaned: list[str] = []
        for i, option in enumerate(options):
            if not isinstance(option, str) or not option.strip() or len(option.strip()) > MAX_OPTION:
                raise InvalidInput(f"an option is 1 to {MAX_OPTION} characters", field=f"options[{i}]")
            if option.strip() in cleaned:
                raise InvalidInput("an option is listed twice", field=f"options[{i}]")
            cleaned.append(option.strip())
        if type(multiple) is not bool:
            raise InvalidInput("multiple must be true or false", field="multiple")
        if closes_at <= now or closes_at > now + timedelta(seconds=MAX_POLL_SECONDS):
            raise InvalidInput("closesAt must be ahead, and within a year", field="closesAt")
        poll = cls(
            id=id,
            organization_id=organization_id,
            organization_slug=organization_slug,
            body_id=body_id,
            question=question.strip(),
            options=tuple(cleaned),
            multiple=multiple,
            created_by=created_by,
            created_at=now,
            closes_at=closes_at,
            proposal_id=proposal_id,
            counts=[0] * len(cleaned),
        )
        poll._record(
            "created",
            {
                "question": poll.question,
                "options": list(poll.options),
                "multiple": multiple,
                "bodyId": str(body_id) if body_id else None,
                "proposalId": str(proposal_id) if proposal_id else None,
                "createdBy": checksum(created_by),
                "closesAt": _iso(closes_at),
            },
        )
        return poll

    def answer(
        self, *, eligible: bool, choices: Any, previous: Sequence[int] | None, now: datetime
    ) -> list[int]:
        """Record (or change) a member's answer; answers the choices as stored (sorted option indexes)."""
        if not self.is_open or now >= self.closes_at:
            raise VotingClosed("the poll is closed")
        if not eligible:
            raise Forbidden("this poll is open to the members of its organisation (or body) only")
        if not isinstance(choices, list | tuple) or not choices:
            raise InvalidInput("choose at least one option", field="choices")
        picked = sorted(set(choices))
        if any(type(c) is not int or not 0 <= c < len(self.options) for c in picked):
            raise InvalidInput(
                f"choices are option numbers from 0 to {len(self.options) - 1}", field="choices"
            )
        if len(picked) != len(choices):
            raise InvalidInput("an option is chosen twice", field="choices")
        if not self.multiple and len(picked) > 1:
            raise InvalidInput("this poll takes one choice", field="choices")
        for c in previous or ():
            self.counts[c] -= 1
        for c in picked:
            self.counts[c] += 1
        if previous is None:
            self.voter_count += 1
        self._record(
            "answered",
            {"counts": list(self.counts), "voterCount": self.voter_count, "changed": previous is not None},
        )
        return picked

    def close(self, now: datetime) -> bool:
        if not self.is_open:
            return False
        self.closed_at = now
        self._record(
            "closed", {"closedAt": _iso(now), "results": self.results(), "voterCount": self.voter_count}
        )
        return True

    def link(self, *, proposal_id: UUID, actor: str, now: datetime) -> None:
        """Attach the poll to a proposal as evidence (by whoever made the poll; once)."""
        if actor != self.created_by:
            raise Forbidden("only the member who made the poll links it")
        if self.proposal_id is not None and self.proposal_id != proposal_id:
            raise Conflict("the poll is already linked to another proposal")
        if self.proposal_id == proposal_id:
            return
        self.proposal_id = proposal_id
        self._record("linked", {"proposalId": str(proposal_id), "linkedAt": _iso(now)})
