"""Decision rules and tallies.

A tally holds the weights cast FOR, AGAINST and ABSTAIN and the eligible weight snapshotted when voting
opened. Abstentions count towards quorum and for neither side. Quorum is reached when the participating
weight (FOR + AGAINST + ABSTAIN) is at least `quorum_percent` of the eligible weight, so exactly at the
threshold is enough; with no eligible weight there is never a quorum.

The rules (`RuleType`):

    MAJORITY        passes with quorum and FOR > AGAINST (a tie fails)
    SUPERMAJORITY   passes with quorum, FOR > 0 and FOR ≥ threshold_percent of FOR + AGAINST
    CONSENT         passes unless an objection: any AGAINST weight defeats it at once; without objection
                    it passes if quorum is reached (quorum 0 by default: silence is consent)
    UNANIMITY       every eligible voter must vote and none AGAINST, with at least one FOR (abstaining
                    is standing aside); any AGAINST defeats it at once; a missing voter means no quorum

A vote that fails without quorum is EXPIRED, otherwise DEFEATED.

Early close (`decided_outcome`): after each vote the proposal closes at once if every way the voters who
have not voted yet could still vote (FOR, AGAINST, ABSTAIN or not at all) leads to the same outcome. Votes
already cast count as they stand, since closing at once leaves no time to change them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class Choice(StrEnum):
    FOR = "FOR"
    AGAINST = "AGAINST"
    ABSTAIN = "ABSTAIN"


class RuleType(StrEnum):
    MAJORITY = "MAJORITY"
    SUPERMAJORITY = "SUPERMAJORITY"
    CONSENT = "CONSENT"
    UNANIMITY = "UNANIMITY"


class Outcome(StrEnum):
    PASSED = "PASSED"
    DEFEATED = "DEFEATED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class Tally:
    """The running sums of one proposal's votes; updated per vote, never recounted."""

    for_: Decimal = ZERO
    against: Decimal = ZERO
    abstain: Decimal = ZERO
    eligible: Decimal = ZERO

    @property
    def participating(self) -> Decimal:
        return self.for_ + self.against + self.abstain

    @property
    def remaining(self) -> Decimal:
        """Eligible weight that has not voted (it may still vote)."""
        return max(self.eligible - self.participating, ZERO)

    def weight_of(self, choice: Choice) -> Decimal:
        return {Choice.FOR: self.for_, Choice.AGAINST: self.against, Choice.ABSTAIN: self.abstain}[choice]

    def _add(self, choice: Choice, weight: Decimal) -> Tally:
        field = {Choice.FOR: "for_", Choice.AGAINST: "against", Choice.ABSTAIN: "abstain"}[choice]
        return replace(self, **{field: getattr(self, field) + weight})

    def with_vote(self, choice: Choice, weight: Decimal, previous: Choice | None = None) -> Tally:
        """The tally after a voter of `weight` chose `choice`, replacing their `previous` choice if any."""
        tally = self if previous is None else self._add(previous, -weight)
        return tally._add(choice, weight)


@dataclass(frozen=True)
class DecisionRule:
    """How a body decides. Percentages are whole numbers from 0 to 100."""

    type: RuleType = RuleType.MAJORITY
    quorum_percent: int = 0
    threshold_percent: int = 50

    @property
    def effective_quorum_percent(self) -> int:
        return 100 if self.type is RuleType.UNANIMITY else self.quorum_percent

    def quorum_reached(self, tally: Tally) -> bool:
        if tally.eligible <= 0:
            return False
        return tally.participating * HUNDRED >= self.effective_quorum_percent * tally.eligible

    def _passes_margin(self, for_: Decimal, against: Decimal) -> bool:
        if self.type is RuleType.MAJORITY:
            return for_ > against
        # SUPERMAJORITY
        return for_ > 0 and for_ * HUNDRED >= self.threshold_percent * (for_ + against)

    def final_outcome(self, tally: Tally) -> Outcome:
        """The outcome if voting ended with this tally."""
        if self.type in (RuleType.CONSENT, RuleType.UNANIMITY):
            if tally.against > 0:
                return Outcome.DEFEATED
            if not self.quorum_reached(tally):
                return Outcome.EXPIRED
            if self.type is RuleType.UNANIMITY and tally.for_ <= 0:
                return Outcome.DEFEATED
            return Outcome.PASSED
        if not self.quorum_reached(tally):
            return Outcome.EXPIRED
        return Outcome.PASSED if self._passes_margin(tally.for_, tally.against) else Outcome.DEFEATED

    def decided_outcome(self, tally: Tally) -> Outcome | None:
        """The outcome if no way of voting by those who have not voted can change it, else None."""
        remaining = tally.remaining
        if remaining <= 0:
            return self.final_outcome(tally)
        if self.type in (RuleType.CONSENT, RuleType.UNANIMITY):
            # an objection decides at once; otherwise someone may still object
            return Outcome.DEFEATED if tally.against > 0 else None
        if not self.quorum_reached(tally):
            # the silent voters alone could leave it without quorum, or vote and reach it
            return None
        f, a = tally.for_, tally.against
        if self._passes_margin(f, a + remaining):
            return Outcome.PASSED
        if not self._passes_margin(f + remaining, a):
            return Outcome.DEFEATED
        return None
