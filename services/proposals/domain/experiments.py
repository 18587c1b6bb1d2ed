"""Experiments (seed 002: hypothesis → time-bound experiment → measure → learn).

A `POLICY` proposal's `updatePolicy` may carry `experiment`: its module overrides then apply only while
the experiment runs, to the bodies named (the smallest scale first; none: the whole organisation), from
its enactment until its end, a date or a number of funding cycles. A run of `n` cycles lasts the rest of
the cycle it starts in and `n` full cycles after it, so it always covers `n` whole cycles.

    RUNNING ──end reached, not renewed──▶ ENDED (the overrides are removed: the change reverts by itself)
       │  ▲
       │  └──renewed with a new end (also restarts an ENDED one: the renewal decides)
       └──renewed as permanent──▶ ADOPTED (the overrides stay, no end)

A renewal is another `POLICY` proposal whose `updatePolicy` carries `renewExperiment`. At the end the
measured figures are computed over the proposals raised under the experiment's modules (`measure`), and
the same figures for the same modules' other proposals of that time as a baseline; a written retrospective
can be attached afterwards by those who may propose a `POLICY` change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from kit import Conflict, InvalidInput, NotFound

from .organization import OrganizationView, checksum
from .policy import Layer

MAX_HYPOTHESIS = 5_000
MAX_MEASURE = 1_000
MAX_MEASURES = 20
MAX_BODIES = 50
MAX_CYCLES = 100
MAX_RETROSPECTIVE = 20_000

# statuses in which a proposal's fate was settled (a reviewed proposal only once its review ended)
_DECIDED = frozenset({"DEFEATED", "EXPIRED", "BLOCKED", "QUEUED", "ENACTED", "FAILED"})
_PASSED = frozenset({"QUEUED", "ENACTED", "FAILED"})


class ExperimentStatus(StrEnum):
    RUNNING = "RUNNING"
    ENDED = "ENDED"
    ADOPTED = "ADOPTED"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _time(value: Any, field: str) -> datetime:
    try:
        when = (
            value
            if isinstance(value, datetime)
            else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        )
    except ValueError:
        raise InvalidInput(f"{field} must be an ISO-8601 date-time", field=field) from None
    if when.tzinfo is None:
        raise InvalidInput(f"{field} must carry a time zone (e.g. Z)", field=field)
    return when


def _text(value: Any, field: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required", field=field)
    if len(value.strip()) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    return value.strip()


def _end(raw: Mapping[str, Any], field: str, *, allow_permanent: bool) -> dict[str, Any]:
    ends_at, cycles = raw.get("endsAt"), raw.get("cycles")
    permanent = raw.get("permanent") is True if allow_permanent else False
    if sum(x is not None and x is not False for x in (ends_at, cycles, permanent or None)) != 1:
        options = "endsAt, cycles or permanent" if allow_permanent else "endsAt or cycles"
        raise InvalidInput(f"give exactly one of {options}", field=field)
    out: dict[str, Any] = {"endsAt": None, "cycles": None}
    if ends_at is not None:
        out["endsAt"] = _iso(_time(ends_at, f"{field}.endsAt"))
    if cycles is not None:
        if type(cycles) is not int or not 1 <= cycles <= MAX_CYCLES:
            raise InvalidInput(
                f"cycles must be a whole number from 1 to {MAX_CYCLES}", field=f"{field}.cycles"
            )
        out["cycles"] = cycles
    if allow_permanent:
        out["permanent"] = permanent
    return out


def parse_experiment(raw: Any, field: str) -> dict[str, Any]:
    """`updatePolicy.experiment`: `{hypothesis, successMeasures[], bodyIds[], endsAt | cycles}`."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("experiment must be an object", field=field)
    measures = raw.get("successMeasures") or []
    if not isinstance(measures, list | tuple) or not 1 <= len(measures) <= MAX_MEASURES:
        raise InvalidInput(
            f"successMeasures must list 1 to {MAX_MEASURES} measures", field=f"{field}.successMeasures"
        )
    bodies = raw.get("bodyIds") or []
    if not isinstance(bodies, list | tuple) or len(bodies) > MAX_BODIES:
        raise InvalidInput(f"bodyIds must list at most {MAX_BODIES} bodies", field=f"{field}.bodyIds")
    body_ids: list[str] = []
    for i, b in enumerate(bodies):
        try:
            body_ids.append(str(UUID(str(b))))
        except ValueError:
            raise InvalidInput("not a valid body id", field=f"{field}.bodyIds[{i}]") from None
    if len(set(body_ids)) != len(body_ids):
        raise InvalidInput("a body is listed twice", field=f"{field}.bodyIds")
    return {
        "hypothesis": _text(raw.get("hypothesis"), f"{field}.hypothesis", MAX_HYPOTHESIS),
        "successMeasures": [
            _text(m, f"{field}.successMeasures[{i}]", MAX_MEASURE) for i, m in enumerate(measures)
        ],
        "bodyIds": body_ids,
        **_end(raw, field, allow_permanent=False),
    }


def parse_renewal(raw: Any, field: str) -> dict[str, Any]:
    """`updatePolicy.renewExperiment`: `{experimentId, endsAt | cycles | permanent: true}`."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("renewExperiment must be an object", field=field)
    try:
        experiment_id = str(UUID(str(raw.get("experimentId"))))
    except ValueError:
        raise InvalidInput("experimentId is not a valid id", field=f"{field}.experimentId") from None
    return {"experimentId": experiment_id, **_end(raw, field, allow_permanent=True)}


def experiment_end(spec: Mapping[str, Any], org: OrganizationView, now: datetime) -> datetime | None:
    """When an experiment (or a renewal) given now ends; None for a permanent renewal."""
    if spec.get("endsAt"):
        return _time(spec["endsAt"], "endsAt")
    if spec.get("cycles"):
        return org.cycle_starts_at(org.current_cycle(now) + int(spec["cycles"]) + 1)
    return None


def check_experiment(spec: Mapping[str, Any], org: OrganizationView, now: datetime, field: str) -> None:
    """Against the organisation when proposed: its bodies exist and a fixed end is still ahead."""
    for i, raw in enumerate(spec.get("bodyIds") or ()):
        if UUID(raw) not in org.bodies:
            raise NotFound(f"no body {raw} in this organisation", field=f"{field}.bodyIds[{i}]")
    if spec.get("endsAt") and _time(spec["endsAt"], "endsAt") <= now:
        raise InvalidInput("the experiment's end is already past", field=f"{field}.endsAt")


def experiment_id_for(proposal_id: UUID, index: int) -> UUID:
    """The experiment started by action `index` of a proposal: the same id however often it is applied."""
    return uuid5(proposal_id, f"experiment:{index}")


# --- measuring ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalRecord:
    """What measuring needs of one proposal: its status, when it was made, the history of its statuses,
    and the weights that took part in its vote (None while voting is open)."""

    status: str
    created_at: datetime
    history: Sequence[tuple[str, datetime]]
    participating: Decimal | None
    eligible: Decimal | None


def measure(records: Iterable[ProposalRecord]) -> dict[str, Any]:
    """The measured figures: proposals raised, decided (vote and any review over), passed, blocked,
    still open; the mean time from proposal to decision; the mean share of eligible weight that voted."""
    rows = list(records)
    decided_after: list[float] = []
    participation: list[Decimal] = []
    passed = blocked = 0
    for r in rows:
        decided_at = next((at for status, at in r.history if status in _DECIDED), None)
        if decided_at is not None:
            decided_after.append((decided_at - r.created_at).total_seconds())
            passed += r.status in _PASSED
            blocked += r.status == "BLOCKED"
        if r.participating is not None and r.eligible:
            participation.append(r.participating * 100 / r.eligible)
    return {
        "proposalsRaised": len(rows),
        "proposalsDecided": len(decided_after),
        "proposalsPassed": passed,
        "proposalsBlocked": blocked,
        "proposalsOpen": sum(1 for r in rows if r.status not in _DECIDED and r.status != "CANCELLED"),
        "averageTimeToDecisionSeconds": round(sum(decided_after) / len(decided_after), 3)
        if decided_after
        else None,
        "participationPercent": float(round(sum(participation) / len(participation), 2))
        if participation
        else None,
    }


# --- the aggregate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentEvent:
    name: str
    data: dict[str, Any]


@dataclass
class Experiment:
    id: UUID
    organization_id: UUID
    organization_slug: str
    proposal_id: UUID
    hypothesis: str
    success_measures: tuple[str, ...]
    body_ids: tuple[UUID, ...]
    overrides: dict[str, dict[str, Any]]
    status: ExperimentStatus
    started_at: datetime
    ends_at: datetime | None
    cycles: int | None = None
    renewals: list[dict[str, Any]] = field(default_factory=list)
    ended_at: datetime | None = None
    figures: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    retrospective: str | None = None
    retrospective_by: str | None = None
    retrospective_at: datetime | None = None
    events: list[ExperimentEvent] = field(default_factory=list)

    @property
    def module_keys(self) -> list[str]:
        return sorted(self.overrides)

    @property
    def layer(self) -> Layer:
        return Layer(self.id, self.body_ids, self.overrides)

    @property
    def deadline_key(self) -> str:
        """Each run has its own key: a fired deadline cannot be moved, a renewal schedules a new one."""
        return f"proposals.experiment:{self.id}:{len(self.renewals)}"

    def _record(self, name: str, data: dict[str, Any]) -> None:
        self.events.append(ExperimentEvent(name, {"experimentId": str(self.id), **data}))

    def pull_events(self) -> list[ExperimentEvent]:
        events, self.events = self.events, []
        return events

    @classmethod
    def start(
        cls,
        *,
        id: UUID,
        organization_id: UUID,
        organization_slug: str,
        proposal_id: UUID,
        spec: Mapping[str, Any],
        overrides: Mapping[str, Mapping[str, Any]],
        ends_at: datetime,
        now: datetime,
    ) -> Experiment:
        """The enacted proposal's overrides start applying now, until `ends_at`."""
        experiment = cls(
            id=id,
            organization_id=organization_id,
            organization_slug=organization_slug,
            proposal_id=proposal_id,
            hypothesis=str(spec["hypothesis"]),
            success_measures=tuple(spec.get("successMeasures") or ()),
            body_ids=tuple(UUID(b) for b in spec.get("bodyIds") or ()),
            overrides={k: dict(v) for k, v in overrides.items()},
            status=ExperimentStatus.RUNNING,
            started_at=now,
            ends_at=ends_at,
            cycles=spec.get("cycles"),
        )
        experiment._record(
            "started",
            {
                "proposalId": str(proposal_id),
                "hypothesis": experiment.hypothesis,
                "successMeasures": list(experiment.success_measures),
                "bodyIds": [str(b) for b in experiment.body_ids],
                "moduleKeys": experiment.module_keys,
                "startedAt": _iso(now),
                "endsAt": _iso(ends_at),
                "cycles": experiment.cycles,
            },
        )
        return experiment

    def renew(self, *, proposal_id: UUID, ends_at: datetime | None, now: datetime) -> bool:
        """An enacted renewal: a new end (None: adopted for good). Answers whether the overrides must be
        applied again (the experiment had ended before the renewal was enacted)."""
        if self.status is ExperimentStatus.ADOPTED or any(
            r["proposalId"] == str(proposal_id) for r in self.renewals
        ):
            return False
        restart = self.status is ExperimentStatus.ENDED
        self.renewals.append({"proposalId": str(proposal_id), "at": _iso(now), "endsAt": _iso(ends_at)})
        self.ends_at = ends_at
        self.ended_at = None
        self.status = ExperimentStatus.ADOPTED if ends_at is None else ExperimentStatus.RUNNING
        self._record(
            "renewed",
            {
                "proposalId": str(proposal_id),
                "endsAt": _iso(ends_at),
                "permanent": ends_at is None,
                "restarted": restart,
            },
        )
        return restart

    def end(self, *, now: datetime, figures: Mapping[str, Any], baseline: Mapping[str, Any]) -> bool:
        """The end is reached and no renewal moved it: the change reverts. False if not running."""
        if self.status is not ExperimentStatus.RUNNING:
            return False
        self.status = ExperimentStatus.ENDED
        self.ended_at = now
        self.figures, self.baseline = dict(figures), dict(baseline)
        self._record(
            "ended",
            {
                "endedAt": _iso(now),
                "reverted": True,
                "moduleKeys": self.module_keys,
                "bodyIds": [str(b) for b in self.body_ids],
                "figures": self.figures,
                "baseline": self.baseline,
            },
        )
        return True

    def write_retrospective(self, *, text: Any, author: str, now: datetime) -> None:
        """The written part of the retrospective, once the figures are in (after the end or adoption)."""
        if self.status is ExperimentStatus.RUNNING:
            raise Conflict("a retrospective is written once the experiment has ended")
        self.retrospective = _text(text, "text", MAX_RETROSPECTIVE)
        self.retrospective_by, self.retrospective_at = author, now
        self._record("retrospective_attached", {"author": checksum(author), "text": self.retrospective})
