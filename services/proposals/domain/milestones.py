"""Decentralisation milestones (seed 004's working model): a dependency graph per organisation.

Each milestone belongs to a phase (e.g. A, B, C; phases are ordered by name), may depend on other
milestones, and is linked to what completes it: proposals (done once ENACTED) and decision modules (done
once an enacted proposal changed the module after the milestone was set). A milestone is DONE when it has
at least one link, all its links are done and every milestone it depends on is DONE; WAITING while a
dependency is not done; otherwise IN_PROGRESS. Completion is recorded once and never undone.

The current phase is the first phase (in order) with a milestone not done; when every milestone is done,
the last phase, complete. A dependency that would close a cycle is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from kit import InvalidInput, NotFound

from .organization import checksum
from .policy import MODULE_KEYS

MAX_PHASE = 40
MAX_TITLE = 200
MAX_DESCRIPTION = 5_000
MAX_LINKS = 50


class MilestoneStatus(StrEnum):
    WAITING = "WAITING"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"


@dataclass(frozen=True)
class MilestoneEvent:
    milestone_id: UUID
    name: str
    data: dict[str, Any]


@dataclass
class Milestone:
    id: UUID
    phase: str
    title: str
    description: str
    depends_on: list[UUID]
    module_keys: list[str]
    proposal_ids: list[UUID]
    created_by: str
    created_at: datetime
    completed_at: datetime | None = None

    def to_event(self) -> dict[str, Any]:
        return {
            "milestoneId": str(self.id),
            "phase": self.phase,
            "title": self.title,
            "dependsOn": [str(d) for d in self.depends_on],
            "moduleKeys": list(self.module_keys),
            "proposalIds": [str(p) for p in self.proposal_ids],
        }


def _text(value: Any, field: str, max_length: int, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"{field} is required", field=field)
    if len(value.strip()) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    return value.strip()


def _ids(raw: Any, field: str) -> list[UUID]:
    if raw is None:
        return []
    if not isinstance(raw, list | tuple) or len(raw) > MAX_LINKS:
        raise InvalidInput(f"{field} lists at most {MAX_LINKS}", field=field)
    out: list[UUID] = []
    for i, value in enumerate(raw):
        try:
            parsed = UUID(str(value))
        except ValueError:
            raise InvalidInput("not a valid id", field=f"{field}[{i}]") from None
        if parsed not in out:
            out.append(parsed)
    return out


def _keys(raw: Any, field: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list | tuple) or len(raw) > MAX_LINKS:
        raise InvalidInput(f"{field} lists at most {MAX_LINKS}", field=field)
    for i, key in enumerate(raw):
        if key not in MODULE_KEYS:
            raise InvalidInput(f"unknown decision module {key!r}", field=f"{field}[{i}]")
    return list(dict.fromkeys(raw))


@dataclass
class MilestoneGraph:
    """An organisation's milestones; every change goes through here so the graph stays acyclic."""

    milestones: dict[UUID, Milestone] = field(default_factory=dict)
    events: list[MilestoneEvent] = field(default_factory=list)

    def pull_events(self) -> list[MilestoneEvent]:
        events, self.events = self.events, []
        return events

    def _check_acyclic(self) -> None:
        state: dict[UUID, int] = {}  # 1: on the path, 2: finished

        def visit(node: UUID) -> None:
            state[node] = 1
            for dep in self.milestones[node].depends_on:
                if state.get(dep) == 1:
                    raise InvalidInput("that dependency would make a cycle of milestones", field="dependsOn")
                if dep not in state:
                    visit(dep)
            state[node] = 2

        for node in self.milestones:
            if node not in state:
                visit(node)

    def _check_deps(self, deps: Iterable[UUID]) -> None:
        for i, dep in enumerate(deps):
            if dep not in self.milestones:
                raise NotFound(f"no milestone {dep} in this organisation", field=f"dependsOn[{i}]")

    def add(
        self,
        *,
        id: UUID,
        phase: Any,
        title: Any,
        description: Any,
        depends_on: Any,
        module_keys: Any,
        proposal_ids: Sequence[UUID],
        created_by: str,
        now: datetime,
    ) -> Milestone:
        deps = _ids(depends_on, "dependsOn")
        self._check_deps(deps)
        milestone = Milestone(
            id=id,
            phase=_text(phase, "phase", MAX_PHASE),
            title=_text(title, "title", MAX_TITLE),
            description=_text(description, "description", MAX_DESCRIPTION, required=False),
            depends_on=deps,
            module_keys=_keys(module_keys, "moduleKeys"),
            proposal_ids=list(proposal_ids),
            created_by=created_by,
            created_at=now,
        )
        self.milestones[id] = milestone
        self.events.append(
            MilestoneEvent(id, "created", {**milestone.to_event(), "createdBy": checksum(created_by)})
        )
        return milestone

    def link(
        self,
        milestone_id: UUID,
        *,
        depends_on: Any = None,
        module_keys: Any = None,
        proposal_ids: Sequence[UUID] = (),
    ) -> Milestone:
        """Add dependencies and links to a milestone (a dependency closing a cycle is refused)."""
        milestone = self.milestones.get(milestone_id)
        if milestone is None:
            raise NotFound("no such milestone")
        deps = _ids(depends_on, "dependsOn")
        self._check_deps(deps)
        before = list(milestone.depends_on)
        milestone.depends_on += [d for d in deps if d not in milestone.depends_on]
        if milestone_id in milestone.depends_on:
            milestone.depends_on = before
            raise InvalidInput("a milestone cannot depend on itself", field="dependsOn")
        try:
            self._check_acyclic()
        except InvalidInput:
            milestone.depends_on = before
            raise
        milestone.module_keys += [
            k for k in _keys(module_keys, "moduleKeys") if k not in milestone.module_keys
        ]
        milestone.proposal_ids += [p for p in proposal_ids if p not in milestone.proposal_ids]
        self.events.append(MilestoneEvent(milestone_id, "linked", milestone.to_event()))
        return milestone

    def status(
        self,
        milestone_id: UUID,
        enacted: Mapping[UUID, bool],
        changed_modules: Mapping[UUID, frozenset[str]],
    ) -> MilestoneStatus:
        """`enacted`: per linked proposal, whether it is ENACTED; `changed_modules`: per milestone, the
        module keys changed by an enacted proposal since it was set."""
        milestone = self.milestones[milestone_id]
        if milestone.completed_at is not None:
            return MilestoneStatus.DONE
        if any(
            self.status(dep, enacted, changed_modules) is not MilestoneStatus.DONE
            for dep in milestone.depends_on
        ):
            return MilestoneStatus.WAITING
        changed = changed_modules.get(milestone_id, frozenset())
        links = [enacted.get(p, False) for p in milestone.proposal_ids]
        links += [k in changed for k in milestone.module_keys]
        return MilestoneStatus.DONE if links and all(links) else MilestoneStatus.IN_PROGRESS

    def complete_what_is_done(
        self,
        enacted: Mapping[UUID, bool],
        changed_modules: Mapping[UUID, frozenset[str]],
        now: datetime,
    ) -> list[Milestone]:
        """Record the completion of every milestone now done (dependencies first); answers them."""
        completed: list[Milestone] = []
        progress = True
        while progress:
            progress = False
            for milestone in self.milestones.values():
                if milestone.completed_at is None and (
                    self.status(milestone.id, enacted, changed_modules) is MilestoneStatus.DONE
                ):
                    milestone.completed_at = now
                    completed.append(milestone)
                    self.events.append(
                        MilestoneEvent(
                            milestone.id,
                            "completed",
                            {**milestone.to_event(), "completedAt": now.isoformat().replace("+00:00", "Z")},
                        )
                    )
                    progress = True
        return completed

    def phases(self) -> list[dict[str, Any]]:
        """Every phase in order with its progress."""
        names = sorted({m.phase for m in self.milestones.values()})
        out = []
        for name in names:
            members = [m for m in self.milestones.values() if m.phase == name]
            done = sum(1 for m in members if m.completed_at is not None)
            out.append(
                {"phase": name, "milestones": len(members), "done": done, "complete": done == len(members)}
            )
        return out

    def current_phase(self) -> tuple[str | None, bool]:
        """The first phase with a milestone not done, and False; or the last phase and True when all
        are done; (None, False) without milestones."""
        phases = self.phases()
        for phase in phases:
            if not phase["complete"]:
                return phase["phase"], False
        return (phases[-1]["phase"], True) if phases else (None, False)
