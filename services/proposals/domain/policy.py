"""The organisation's policy: its settings and the decision modules derived from them.

A decision module says, for one kind of proposal raised in one kind of body, who may propose, which body
decides and by which rule, how long voting lasts, whether the Stakeholder Group reviews the result
optimistically (window, veto threshold, concern extension), the delay before enactment, the grace period
to execute once ready, and which actions the proposal may carry.

The default modules (DOMAIN.md's kinds table; `s` is the organisation's `PolicySettings`). "Raised in" is
the body named by the proposal's `bodyId`; "cell" is a cell below the TLC:

    key                            raised in   decides          proposers                 rule (quorum %)
    OPERATIONAL:CELL               cell        its core team    its core team             majority (50)
    OPERATIONAL:TOP_LEVEL_CELL     TLC         TLC core team    any operational member    majority (50)
    BUDGET:TOP_LEVEL_CELL          TLC         TLC core team    any operational member    majority (50)
    CELL_STATE:TOP_LEVEL_CELL      TLC         SHG              TLC core team             majority (s.quorum)
    CELL_STATE:CELL                cell        its core team    its core team             majority (50)
    STAKEHOLDER:STAKEHOLDER_GROUP  SHG         SHG              SHG members               majority (s.quorum)
    COMMUNITY:STAKEHOLDER_GROUP    SHG         SHG              any signed-in member      majority (s.quorum)
    POLICY:STAKEHOLDER_GROUP       SHG or TLC  SHG              SHG members, TLC core     supermajority 66%
                                                                team                      (s.quorum)

After a passed vote: OPERATIONAL and BUDGET at the TLC go to optimistic review by the SHG, then are
enacted unless blocked; POLICY waits `s.policyDelaySeconds` (the timelock), then is enacted; the others
are enacted at once. COMMUNITY exists only when `s.communityProposals` is on. Actions allowed: a cell's
OPERATIONAL may create cells and add or remove members within its own subtree; the TLC's OPERATIONAL
may also allocate budgets; BUDGET only allocates budgets; CELL_STATE only sets the Cell State of the cell
it is raised in; STAKEHOLDER may do all of these but set a Cell State; COMMUNITY may create cells and
allocate budgets; POLICY only updates the policy.

Every module votes for `s.votingPeriodSeconds`; reviews last `s.reviewPeriodSeconds` with
`s.vetoThresholdPercent` and `s.concernExtensionSeconds`; a ready operation must be executed within
`DEFAULT_GRACE_PERIOD_SECONDS`. "Any operational member" is a core team member or contributor of any cell.

Per-module overrides (rule, percentages, periods, delay, grace, the appeal threshold, a commission's
feedback before voting) are part of the policy too; like the settings they change only through an enacted
`POLICY` proposal (`updatePolicy`). Each change that alters a module gives it a new version; a proposal
keeps the module version it was created under.

Experiments (seed 002) add *layers* of overrides for a time: an organisation-wide layer changes the
module itself while it runs; a layer scoped to bodies makes a *variant* of the module that applies only to
proposals raised in those bodies or their sub-cells. A proposal takes the most specific module: a variant
naming the body it is raised in, else one naming the nearest ancestor cell, else the organisation's module
(among variants at the same level, the experiment started last). When an experiment ends its layer is
removed and the scope returns to the organisation's terms. Versions count per module key across the
organisation-wide module and its variants, so every version row of a key is one set of terms in one scope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any
from uuid import UUID

from kit import InvalidInput

from .voting import DecisionRule, RuleType

DAY = 86_400
MAX_SECONDS = 10 * 365 * DAY
CELL_QUORUM_PERCENT = 50
POLICY_SUPERMAJORITY_PERCENT = 66
DEFAULT_GRACE_PERIOD_SECONDS = 14 * DAY
DEFAULT_FEEDBACK_WINDOW_SECONDS = 7 * DAY


def default_appeal_threshold(veto_threshold_percent: int) -> int:
    """An appeal of a blocked proposal needs twice the objecting weight to be blocked again (at most
    all of it): the second review asks more of those who would block."""
    return min(100, 2 * veto_threshold_percent)


class Kind(StrEnum):
    OPERATIONAL = "OPERATIONAL"
    BUDGET = "BUDGET"
    CELL_STATE = "CELL_STATE"
    STAKEHOLDER = "STAKEHOLDER"
    COMMUNITY = "COMMUNITY"
    POLICY = "POLICY"


class Scope(StrEnum):
    """Where a proposal is raised: a cell below the TLC, the TLC, or the Stakeholder Group."""

    CELL = "CELL"
    TOP_LEVEL_CELL = "TOP_LEVEL_CELL"
    STAKEHOLDER_GROUP = "STAKEHOLDER_GROUP"


class Decider(StrEnum):
    RAISING_CELL = "RAISING_CELL"  # the core team of the cell the proposal is raised in
    STAKEHOLDER_GROUP = "STAKEHOLDER_GROUP"


class Proposer(StrEnum):
    RAISING_CELL_CORE_TEAM = "RAISING_CELL_CORE_TEAM"
    TOP_LEVEL_CELL_CORE_TEAM = "TOP_LEVEL_CELL_CORE_TEAM"
    OPERATIONAL_MEMBER = "OPERATIONAL_MEMBER"
    STAKEHOLDER = "STAKEHOLDER"
    ANY_MEMBER = "ANY_MEMBER"


class ActionType(StrEnum):
    CREATE_CELL = "createCell"
    ADD_MEMBER = "addMember"
    REMOVE_MEMBER = "removeMember"
    ALLOCATE_BUDGET = "allocateBudget"
    SET_CELL_STATE = "setCellState"
    UPDATE_POLICY = "updatePolicy"


class Next(StrEnum):
    """What follows a passed vote."""

    REVIEW = "REVIEW"
    DELAY = "DELAY"
    ENACT = "ENACT"
    NONE = "NONE"


class StakeholderWeighting(StrEnum):
    EQUAL = "EQUAL"
    COMMITTED_FUNDS = "COMMITTED_FUNDS"


# --- settings -------------------------------------------------------------------------------------

# The seed's model; the same values as membership's defaults (organization.created carries them anyway).
DEFAULT_SETTINGS: Mapping[str, Any] = {
    "votingPeriodSeconds": 7 * DAY,
    "reviewPeriodSeconds": 7 * DAY,
    "concernExtensionSeconds": 3 * DAY,
    "vetoThresholdPercent": 33,
    "quorumPercent": 20,
    "stakeholderWeighting": "EQUAL",
    "cycleLengthSeconds": 90 * DAY,
    "communityProposals": False,
    "policyDelaySeconds": 90 * DAY,
}
_SECONDS_MIN = {
    "votingPeriodSeconds": 1,
    "reviewPeriodSeconds": 1,
    "cycleLengthSeconds": 1,
    "concernExtensionSeconds": 0,
    "policyDelaySeconds": 0,
}
_PERCENTS = ("vetoThresholdPercent", "quorumPercent")


def _check_seconds(value: Any, minimum: int, field: str) -> int:
    if type(value) is not int or not minimum <= value <= MAX_SECONDS:
        raise InvalidInput(
            f"{field} must be a whole number of seconds from {minimum} to {MAX_SECONDS}", field=field
        )
    return value


def _check_percent(value: Any, minimum: int, field: str) -> int:
    if type(value) is not int or not minimum <= value <= 100:
        raise InvalidInput(f"{field} must be a whole percent from {minimum} to 100", field=field)
    return value


@dataclass(frozen=True)
class PolicySettings:
    """The organisation-wide parameters (the contract's `PolicyInput`), with the seed's defaults."""

    voting_period_seconds: int = DEFAULT_SETTINGS["votingPeriodSeconds"]
    review_period_seconds: int = DEFAULT_SETTINGS["reviewPeriodSeconds"]
    concern_extension_seconds: int = DEFAULT_SETTINGS["concernExtensionSeconds"]
    veto_threshold_percent: int = DEFAULT_SETTINGS["vetoThresholdPercent"]
    quorum_percent: int = DEFAULT_SETTINGS["quorumPercent"]
    stakeholder_weighting: str = DEFAULT_SETTINGS["stakeholderWeighting"]
    cycle_length_seconds: int = DEFAULT_SETTINGS["cycleLengthSeconds"]
    community_proposals: bool = DEFAULT_SETTINGS["communityProposals"]
    policy_delay_seconds: int = DEFAULT_SETTINGS["policyDelaySeconds"]

    def to_dict(self) -> dict[str, Any]:
        return {_camel(k): v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> PolicySettings:
        """Settings as announced by another service: missing, null, unknown or out-of-range values take
        the defaults (refusing them would leave the organisation unprojected)."""
        values = dict(raw or {})
        while True:
            try:
                return cls().merged(values, field_prefix="policy", lenient=True)
            except InvalidInput as exc:
                key = (exc.field or "").removeprefix("policy.")
                if key not in values:
                    raise
                values.pop(key)

    def merged(
        self, update: Mapping[str, Any], *, field_prefix: str = "updatePolicy", lenient: bool = False
    ) -> PolicySettings:
        """These settings with `update`'s non-null values applied, validated.

        `lenient` ignores unknown keys (settings announced by membership may grow), otherwise they are
        refused.
        """
        values = self.to_dict()
        for key, value in update.items():
            if key not in DEFAULT_SETTINGS:
                if lenient:
                    continue
                raise InvalidInput(f"unknown policy setting {key}", field=f"{field_prefix}.{key}")
            if value is not None:
                values[key] = value
        for key, minimum in _SECONDS_MIN.items():
            _check_seconds(values[key], minimum, f"{field_prefix}.{key}")
        for key in _PERCENTS:
            _check_percent(values[key], 1, f"{field_prefix}.{key}")
        if values["stakeholderWeighting"] not in set(StakeholderWeighting):
            raise InvalidInput(
                "stakeholderWeighting must be EQUAL or COMMITTED_FUNDS",
                field=f"{field_prefix}.stakeholderWeighting",
            )
        if type(values["communityProposals"]) is not bool:
            raise InvalidInput(
                "communityProposals must be true or false", field=f"{field_prefix}.communityProposals"
            )
        return PolicySettings(**{_snake(k): v for k, v in values.items()})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


# --- modules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    """Optimistic review of a passed vote by the Stakeholder Group.

    `appeal_veto_threshold_percent` is the threshold of an appeal's review (a blocked proposal submitted
    again once); it is never below `veto_threshold_percent`.
    """

    window_seconds: int
    veto_threshold_percent: int
    concern_extension_seconds: int
    reviewing_body: Decider = Decider.STAKEHOLDER_GROUP
    appeal_veto_threshold_percent: int = 0

    def __post_init__(self) -> None:
        appeal = self.appeal_veto_threshold_percent or default_appeal_threshold(self.veto_threshold_percent)
        object.__setattr__(self, "appeal_veto_threshold_percent", max(appeal, self.veto_threshold_percent))


@dataclass(frozen=True)
class Feedback:
    """A commission's feedback on a draft before voting opens: voting starts `window_seconds` after the
    proposal is made. `public`: everyone may read the feedback (otherwise only the commission)."""

    commission_id: UUID
    window_seconds: int = DEFAULT_FEEDBACK_WINDOW_SECONDS
    public: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "commissionId": str(self.commission_id),
            "windowSeconds": self.window_seconds,
            "public": self.public,
        }


@dataclass(frozen=True)
class DecisionModule:
    key: str
    kind: Kind
    raised_in: tuple[Scope, ...]
    decider: Decider
    proposers: tuple[Proposer, ...]
    rule: DecisionRule
    voting_period_seconds: int
    review: Review | None
    delay_seconds: int
    grace_period_seconds: int
    allowed_actions: tuple[ActionType, ...]
    enabled: bool = True
    version: int = 1
    feedback: Feedback | None = None
    # a variant's bodies (empty: the organisation-wide module) and the experiment that shaped it
    scope: tuple[UUID, ...] = ()
    experiment_id: UUID | None = None

    @property
    def next_after_passing(self) -> Next:
        if self.review is not None:
            return Next.REVIEW
        if self.delay_seconds > 0:
            return Next.DELAY
        return Next.ENACT

    def same_terms(self, other: DecisionModule) -> bool:
        return replace(self, version=0) == replace(other, version=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version": self.version,
            "kind": str(self.kind),
            "raisedIn": [str(s) for s in self.raised_in],
            "decidingBody": str(self.decider),
            "proposers": [str(p) for p in self.proposers],
            "rule": str(self.rule.type),
            "quorumPercent": self.rule.quorum_percent,
            "thresholdPercent": self.rule.threshold_percent,
            "votingPeriodSeconds": self.voting_period_seconds,
            "review": None
            if self.review is None
            else {
                "reviewingBody": str(self.review.reviewing_body),
                "windowSeconds": self.review.window_seconds,
                "vetoThresholdPercent": self.review.veto_threshold_percent,
                "concernExtensionSeconds": self.review.concern_extension_seconds,
                "appealVetoThresholdPercent": self.review.appeal_veto_threshold_percent,
            },
            "delaySeconds": self.delay_seconds,
            "gracePeriodSeconds": self.grace_period_seconds,
            "allowedActions": [str(a) for a in self.allowed_actions],
            "enabled": self.enabled,
            "feedback": None if self.feedback is None else self.feedback.to_dict(),
            "scope": [str(b) for b in self.scope],
            "experimentId": None if self.experiment_id is None else str(self.experiment_id),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DecisionModule:
        review = raw.get("review")
        feedback = raw.get("feedback")
        return cls(
            key=raw["key"],
            version=int(raw["version"]),
            kind=Kind(raw["kind"]),
            raised_in=tuple(Scope(s) for s in raw["raisedIn"]),
            decider=Decider(raw["decidingBody"]),
            proposers=tuple(Proposer(p) for p in raw["proposers"]),
            rule=DecisionRule(RuleType(raw["rule"]), int(raw["quorumPercent"]), int(raw["thresholdPercent"])),
            voting_period_seconds=int(raw["votingPeriodSeconds"]),
            review=None
            if review is None
            else Review(
                window_seconds=int(review["windowSeconds"]),
                veto_threshold_percent=int(review["vetoThresholdPercent"]),
                concern_extension_seconds=int(review["concernExtensionSeconds"]),
                reviewing_body=Decider(review.get("reviewingBody", Decider.STAKEHOLDER_GROUP)),
                appeal_veto_threshold_percent=int(review.get("appealVetoThresholdPercent") or 0),
            ),
            delay_seconds=int(raw["delaySeconds"]),
            grace_period_seconds=int(raw["gracePeriodSeconds"]),
            allowed_actions=tuple(ActionType(a) for a in raw["allowedActions"]),
            enabled=bool(raw.get("enabled", True)),
            feedback=None
            if not feedback
            else Feedback(
                commission_id=UUID(str(feedback["commissionId"])),
                window_seconds=int(feedback["windowSeconds"]),
                public=bool(feedback.get("public", False)),
            ),
            scope=tuple(UUID(str(b)) for b in raw.get("scope") or ()),
            experiment_id=UUID(str(raw["experimentId"])) if raw.get("experimentId") else None,
        )

    def changes_from(self, before: DecisionModule | None) -> dict[str, Any]:
        """What differs from `before` (the terms that applied in this scope until now), field by field:
        `{name: {"from": old, "to": new}}`; for a module that did not exist, every field from null."""
        new = self.to_dict()
        old = before.to_dict() if before is not None else {}
        return {
            name: {"from": old.get(name), "to": value}
            for name, value in new.items()
            if name not in ("version", "key", "scope", "experimentId") and old.get(name) != value
        }


_MEMBERS = (ActionType.CREATE_CELL, ActionType.ADD_MEMBER, ActionType.REMOVE_MEMBER)


def default_modules(s: PolicySettings) -> dict[str, DecisionModule]:
    """The kinds table of DOMAIN.md, parameterised by the organisation's settings (version 1)."""
    cell_rule = DecisionRule(RuleType.MAJORITY, quorum_percent=CELL_QUORUM_PERCENT)
    shg_rule = DecisionRule(RuleType.MAJORITY, quorum_percent=s.quorum_percent)
    shg_review = Review(s.review_period_seconds, s.veto_threshold_percent, s.concern_extension_seconds)
    grace = DEFAULT_GRACE_PERIOD_SECONDS

    def module(
        kind: Kind,
        raised_in: tuple[Scope, ...],
        decider: Decider,
        proposers: tuple[Proposer, ...],
        rule: DecisionRule,
        actions: tuple[ActionType, ...],
        *,
        review: Review | None = None,
        delay: int = 0,
        enabled: bool = True,
    ) -> DecisionModule:
        return DecisionModule(
            key=f"{kind}:{raised_in[0]}",
            kind=kind,
            raised_in=raised_in,
            decider=decider,
            proposers=proposers,
            rule=rule,
            voting_period_seconds=s.voting_period_seconds,
            review=review,
            delay_seconds=delay,
            grace_period_seconds=grace,
            allowed_actions=actions,
            enabled=enabled,
        )

    cell, tlc, shg = (Scope.CELL,), (Scope.TOP_LEVEL_CELL,), (Scope.STAKEHOLDER_GROUP,)
    operational_member = (Proposer.OPERATIONAL_MEMBER,)
    modules = [
        module(
            Kind.OPERATIONAL,
            cell,
            Decider.RAISING_CELL,
            (Proposer.RAISING_CELL_CORE_TEAM,),
            cell_rule,
            _MEMBERS,
        ),
        module(
            Kind.OPERATIONAL,
            tlc,
            Decider.RAISING_CELL,
            operational_member,
            cell_rule,
            (*_MEMBERS, ActionType.ALLOCATE_BUDGET),
            review=shg_review,
        ),
        module(
            Kind.BUDGET,
            tlc,
            Decider.RAISING_CELL,
            operational_member,
            cell_rule,
            (ActionType.ALLOCATE_BUDGET,),
            review=shg_review,
        ),
        module(
            Kind.CELL_STATE,
            tlc,
            Decider.STAKEHOLDER_GROUP,
            (Proposer.TOP_LEVEL_CELL_CORE_TEAM,),
            shg_rule,
            (ActionType.SET_CELL_STATE,),
        ),
        module(
            Kind.CELL_STATE,
            cell,
            Decider.RAISING_CELL,
            (Proposer.RAISING_CELL_CORE_TEAM,),
            cell_rule,
            (ActionType.SET_CELL_STATE,),
        ),
        module(
            Kind.STAKEHOLDER,
            shg,
            Decider.STAKEHOLDER_GROUP,
            (Proposer.STAKEHOLDER,),
            shg_rule,
            (*_MEMBERS, ActionType.ALLOCATE_BUDGET),
        ),
        module(
            Kind.COMMUNITY,
            shg,
            Decider.STAKEHOLDER_GROUP,
            (Proposer.ANY_MEMBER,),
            shg_rule,
            (ActionType.CREATE_CELL, ActionType.ALLOCATE_BUDGET),
            enabled=s.community_proposals,
        ),
        module(
            Kind.POLICY,
            (Scope.STAKEHOLDER_GROUP, Scope.TOP_LEVEL_CELL),
            Decider.STAKEHOLDER_GROUP,
            (Proposer.STAKEHOLDER, Proposer.TOP_LEVEL_CELL_CORE_TEAM),
            DecisionRule(
                RuleType.SUPERMAJORITY,
                quorum_percent=s.quorum_percent,
                threshold_percent=POLICY_SUPERMAJORITY_PERCENT,
            ),
            (ActionType.UPDATE_POLICY,),
            delay=s.policy_delay_seconds,
        ),
    ]
    return {m.key: m for m in modules}


MODULE_KEYS = tuple(default_modules(PolicySettings()))


# --- per-module overrides ---------------------------------------------------------------------------

_OVERRIDE_FIELDS = (
    "rule",
    "quorumPercent",
    "thresholdPercent",
    "votingPeriodSeconds",
    "reviewWindowSeconds",
    "vetoThresholdPercent",
    "concernExtensionSeconds",
    "delaySeconds",
    "gracePeriodSeconds",
    "appealVetoThresholdPercent",
    "feedbackCommissionId",
    "feedbackWindowSeconds",
    "feedbackPublic",
)


def check_override(raw: Any, *, field: str) -> dict[str, Any]:
    """One `updatePolicy.modules[i]` entry: `key` and the fields it changes (null removes an override)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("a module override must be an object", field=field)
    key = raw.get("key")
    if key not in MODULE_KEYS:
        raise InvalidInput(
            f"unknown decision module {key!r}; one of {', '.join(MODULE_KEYS)}", field=f"{field}.key"
        )
    out: dict[str, Any] = {"key": key}
    for name, value in raw.items():
        if name == "key":
            continue
        at = f"{field}.{name}"
        if name not in _OVERRIDE_FIELDS:
            raise InvalidInput(f"{name} cannot be overridden in a decision module", field=at)
        if value is None:
            out[name] = None
        elif name == "rule":
            if value not in set(RuleType):
                raise InvalidInput(f"rule must be one of {', '.join(RuleType)}", field=at)
            out[name] = str(value)
        elif name in ("quorumPercent",):
            out[name] = _check_percent(value, 0, at)
        elif name in ("thresholdPercent", "vetoThresholdPercent", "appealVetoThresholdPercent"):
            out[name] = _check_percent(value, 1, at)
        elif name in ("votingPeriodSeconds", "reviewWindowSeconds", "feedbackWindowSeconds"):
            out[name] = _check_seconds(value, 1, at)
        elif name == "feedbackCommissionId":
            try:
                out[name] = str(UUID(str(value)))
            except ValueError:
                raise InvalidInput("feedbackCommissionId is not a valid id", field=at) from None
        elif name == "feedbackPublic":
            if type(value) is not bool:
                raise InvalidInput("feedbackPublic must be true or false", field=at)
            out[name] = value
        else:
            out[name] = _check_seconds(value, 0, at)
    return out


def _apply_override(module: DecisionModule, o: Mapping[str, Any]) -> DecisionModule:
    rule = module.rule
    if o.get("rule") is not None:
        rule = replace(rule, type=RuleType(o["rule"]))
    if o.get("quorumPercent") is not None:
        rule = replace(rule, quorum_percent=o["quorumPercent"])
    if o.get("thresholdPercent") is not None:
        rule = replace(rule, threshold_percent=o["thresholdPercent"])
    review = module.review
    if review is not None:
        veto = o.get("vetoThresholdPercent") or review.veto_threshold_percent
        # a new veto threshold moves the default appeal threshold with it, unless one is set
        appeal = o.get("appealVetoThresholdPercent") or (
            review.appeal_veto_threshold_percent
            if veto == review.veto_threshold_percent
            else default_appeal_threshold(veto)
        )
        review = Review(
            window_seconds=o.get("reviewWindowSeconds") or review.window_seconds,
            veto_threshold_percent=veto,
            concern_extension_seconds=review.concern_extension_seconds
            if o.get("concernExtensionSeconds") is None
            else o["concernExtensionSeconds"],
            reviewing_body=review.reviewing_body,
            appeal_veto_threshold_percent=appeal,
        )
    feedback = module.feedback
    if o.get("feedbackCommissionId"):
        feedback = Feedback(
            commission_id=UUID(str(o["feedbackCommissionId"])),
            window_seconds=o.get("feedbackWindowSeconds") or DEFAULT_FEEDBACK_WINDOW_SECONDS,
            public=bool(o.get("feedbackPublic", False)),
        )
    return replace(
        module,
        rule=rule,
        review=review,
        feedback=feedback,
        voting_period_seconds=o.get("votingPeriodSeconds") or module.voting_period_seconds,
        delay_seconds=module.delay_seconds if o.get("delaySeconds") is None else o["delaySeconds"],
        grace_period_seconds=module.grace_period_seconds
        if o.get("gracePeriodSeconds") is None
        else o["gracePeriodSeconds"],
    )


# --- the policy aggregate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyUpdate:
    """What one `updatePolicy` action changes: settings (camelCase, non-null only) and module overrides.

    With `experiment` (a validated spec, see `domain.experiments`) the overrides are a time-bound layer
    instead of a lasting change; with `renew_experiment` the action renews a running experiment.
    """

    settings: Mapping[str, Any] = field(default_factory=dict)
    modules: tuple[Mapping[str, Any], ...] = ()
    experiment: Mapping[str, Any] | None = None
    renew_experiment: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.settings)
        if self.modules:
            out["modules"] = [dict(m) for m in self.modules]
        if self.experiment is not None:
            out["experiment"] = dict(self.experiment)
        if self.renew_experiment is not None:
            out["renewExperiment"] = dict(self.renew_experiment)
        return out

    def overrides(self) -> dict[str, dict[str, Any]]:
        """The module overrides by key (later entries for the same key win)."""
        out: dict[str, dict[str, Any]] = {}
        for o in self.modules:
            out.setdefault(o["key"], {}).update({k: v for k, v in o.items() if k != "key"})
        return out


@dataclass(frozen=True)
class Layer:
    """An experiment's overrides while it runs: organisation-wide (no bodies) or for some bodies."""

    experiment_id: UUID
    body_ids: tuple[UUID, ...]
    overrides: Mapping[str, Mapping[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "experimentId": str(self.experiment_id),
            "bodyIds": [str(b) for b in self.body_ids],
            "overrides": {k: dict(v) for k, v in self.overrides.items()},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Layer:
        return cls(
            UUID(str(raw["experimentId"])),
            tuple(UUID(str(b)) for b in raw.get("bodyIds") or ()),
            {k: dict(v) for k, v in (raw.get("overrides") or {}).items()},
        )


def variant_id(key: str, experiment_id: UUID) -> str:
    return f"{key}@{experiment_id}"


@dataclass
class Policy:
    """An organisation's settings, its module overrides, the experiments' layers, and the current version
    of each module and variant. `latest` is the last version number given per module key."""

    settings: PolicySettings
    overrides: dict[str, dict[str, Any]]
    modules: dict[str, DecisionModule]
    layers: list[Layer] = field(default_factory=list)
    variants: dict[str, DecisionModule] = field(default_factory=dict)
    latest: dict[str, int] = field(default_factory=dict)
    # what the last change did to each new version (key, version): field → {from, to}
    diffs: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for module in [*self.modules.values(), *self.variants.values()]:
            self.latest[module.key] = max(self.latest.get(module.key, 0), module.version)

    @classmethod
    def create(cls, settings: PolicySettings) -> Policy:
        return cls(settings, {}, default_modules(settings))

    def _effective(
        self,
        settings: PolicySettings,
        overrides: Mapping[str, Mapping[str, Any]],
        layers: Sequence[Layer],
    ) -> tuple[dict[str, DecisionModule], dict[str, DecisionModule]]:
        modules: dict[str, DecisionModule] = {}
        for key, module in default_modules(settings).items():
            module = _apply_override(module, overrides.get(key, {}))
            for layer in layers:
                if not layer.body_ids and key in layer.overrides:
                    module = replace(
                        _apply_override(module, layer.overrides[key]), experiment_id=layer.experiment_id
                    )
            modules[key] = module
        variants: dict[str, DecisionModule] = {}
        for layer in layers:
            if not layer.body_ids:
                continue
            for key, o in layer.overrides.items():
                variants[variant_id(key, layer.experiment_id)] = replace(
                    _apply_override(modules[key], o), scope=layer.body_ids, experiment_id=layer.experiment_id
                )
        return modules, variants

    def _rebuild(
        self,
        settings: PolicySettings,
        overrides: dict[str, dict[str, Any]],
        layers: list[Layer],
    ) -> list[DecisionModule]:
        """Make these the policy; answer every new version (of a module, a variant, or a scope returning
        to the organisation's terms), each numbered after the last version of its key."""
        modules, variants = self._effective(settings, overrides, layers)
        changed: list[DecisionModule] = []
        self.diffs = {}

        def settle(
            old: DecisionModule | None, new: DecisionModule, before: DecisionModule | None
        ) -> DecisionModule:
            if old is not None and old.same_terms(new):
                return old
            version = self.latest.get(new.key, 0) + 1
            self.latest[new.key] = version
            new = replace(new, version=version)
            changed.append(new)
            self.diffs[(new.key, version)] = new.changes_from(before)
            return new

        modules = {key: settle(self.modules.get(key), m, self.modules.get(key)) for key, m in modules.items()}
        variants = {
            vid: settle(old := self.variants.get(vid), v, old or self.modules.get(v.key))
            for vid, v in variants.items()
        }
        for vid, old in self.variants.items():
            if vid not in variants:
                # the variant's bodies are back on the organisation's terms: recorded as a version too
                settle(None, replace(modules[old.key], scope=old.scope, experiment_id=None), old)
        self.settings, self.overrides, self.layers = settings, overrides, layers
        self.modules, self.variants = modules, variants
        return changed

    def apply(self, update: PolicyUpdate) -> list[DecisionModule]:
        """Apply an enacted lasting `updatePolicy`; answer the new versions (modules and variants).

        Applying the same update twice changes nothing the second time.
        """
        settings = self.settings.merged(update.settings)
        overrides = {k: dict(v) for k, v in self.overrides.items()}
        for o in update.modules:
            current = overrides.setdefault(o["key"], {})
            for name, value in o.items():
                if name == "key":
                    continue
                if value is None:
                    current.pop(name, None)
                else:
                    current[name] = value
        overrides = {k: v for k, v in overrides.items() if v}
        return self._rebuild(settings, overrides, list(self.layers))

    def add_layer(self, layer: Layer) -> list[DecisionModule]:
        """An experiment starts: its overrides apply on top of the policy (once, even if repeated)."""
        if any(existing.experiment_id == layer.experiment_id for existing in self.layers):
            return []
        return self._rebuild(self.settings, self.overrides, [*self.layers, layer])

    def remove_layer(self, experiment_id: UUID) -> list[DecisionModule]:
        """An experiment ends: its overrides no longer apply (nothing happens if they did not)."""
        kept = [layer for layer in self.layers if layer.experiment_id != experiment_id]
        if len(kept) == len(self.layers):
            return []
        return self._rebuild(self.settings, self.overrides, kept)

    def module_for(self, kind: Kind, scope: Scope, lineage: Sequence[UUID] = ()) -> DecisionModule:
        """The module for a proposal of `kind` raised in a body of `scope`; InvalidInput if none applies.

        `lineage` is the raising body then its ancestors: the most specific variant among them wins.
        """
        for module in self.modules.values():
            if module.kind is kind and scope in module.raised_in:
                if not module.enabled:
                    raise InvalidInput(f"{kind} proposals are not enabled in this organisation", field="kind")
                return self._most_specific(module, lineage)
        raise InvalidInput(f"a {kind} proposal cannot be raised in a {_scope_name(scope)}", field="bodyId")

    def _most_specific(self, module: DecisionModule, lineage: Sequence[UUID]) -> DecisionModule:
        for body_id in lineage:
            found = [v for v in self.variants.values() if v.key == module.key and body_id in v.scope]
            if found:
                return found[-1]  # variants are kept in the order their experiments started
        return module

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.settings.to_dict(),
            "modules": [m.to_dict() for m in self.modules.values()],
        }


def _scope_name(scope: Scope) -> str:
    return {
        Scope.CELL: "cell below the Top Level Cell",
        Scope.TOP_LEVEL_CELL: "Top Level Cell",
        Scope.STAKEHOLDER_GROUP: "Stakeholder Group",
    }[scope]
