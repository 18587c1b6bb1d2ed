"""The effective policy and its decision modules (seed 004's governance decision diagram)."""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.clients import models as m
from gateway.schema.enums import ProposalKind, StakeholderWeighting


@strawberry.type(description="How the SHG reviews a module's passed proposals optimistically.")
class ModuleReview:
    reviewing_body: str = strawberry.field(description="Which body reviews (e.g. STAKEHOLDER_GROUP).")
    window_seconds: int = strawberry.field(description="How long the review lasts.")
    veto_threshold_percent: int = strawberry.field(
        description="Percent of the reviewers' weight that blocks."
    )
    concern_extension_seconds: int = strawberry.field(
        description="Extension the first concern brings (once)."
    )
    appeal_veto_threshold_percent: int | None = strawberry.field(
        default=None,
        description="The higher threshold of an appeal's review (a blocked proposal submitted again once).",
    )


@strawberry.type(description="A commission's feedback a module asks for on drafts before voting opens.")
class ModuleFeedback:
    commission_id: strawberry.ID = strawberry.field(description="The commission (a body) giving feedback.")
    window_seconds: int = strawberry.field(description="How long feedback is taken before voting opens.")
    public: bool = strawberry.field(
        description="Whether everyone may read the feedback (otherwise only the commission's members)."
    )


@strawberry.type(
    description="A decision module: for a kind of proposal raised in a scope, who proposes, who decides "
    "by which rule, who reviews, and the delay before enactment (seed 004's decision modules)."
)
class DecisionModule:
    key: str = strawberry.field(description="Stable key of the module, e.g. OPERATIONAL:TOP_LEVEL_CELL.")
    version: int = strawberry.field(description="Bumped by every enacted change to the module.")
    kind: ProposalKind = strawberry.field(description="The kind of proposal it governs.")
    raised_in: list[str] = strawberry.field(
        description="Where such proposals are raised: CELL, TOP_LEVEL_CELL or STAKEHOLDER_GROUP."
    )
    deciding_body: str = strawberry.field(description="Who decides: RAISING_CELL or STAKEHOLDER_GROUP.")
    proposers: list[str] = strawberry.field(
        description="Who may propose (e.g. RAISING_CELL_CORE_TEAM, OPERATIONAL_MEMBER, STAKEHOLDER)."
    )
    rule: str = strawberry.field(description="The decision rule (majority, supermajority, consent, ...).")
    quorum_percent: int = strawberry.field(description="Percent of eligible weight that must vote.")
    threshold_percent: int = strawberry.field(description="Percent of cast weight needed to pass.")
    voting_period_seconds: int = strawberry.field(description="How long voting stays open.")
    review: ModuleReview | None = strawberry.field(description="Optimistic review after passing, if any.")
    delay_seconds: int = strawberry.field(description="Wait between passing and enactment.")
    grace_period_seconds: int = strawberry.field(
        description="How long a ready proposal may wait to be enacted."
    )
    allowed_actions: list[str] = strawberry.field(description="The actions such proposals may carry.")
    enabled: bool = strawberry.field(description="Whether proposals of this module are accepted.")
    feedback: ModuleFeedback | None = strawberry.field(
        default=None, description="A commission's feedback required before voting opens, if any."
    )
    scope_body_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="For a variant, the bodies (and their sub-cells) it applies to; empty for the "
        "organisation-wide module.",
    )
    experiment_id: strawberry.ID | None = strawberry.field(
        default=None, description="The experiment that shaped these terms, while it runs (or adopted)."
    )

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> DecisionModule:
        review = raw.get("review")
        feedback = raw.get("feedback")
        return cls(
            key=str(raw["key"]),
            version=int(raw.get("version", 1)),
            kind=ProposalKind(raw["kind"]),
            raised_in=[str(x) for x in raw.get("raisedIn") or []],
            deciding_body=str(raw.get("decidingBody", "")),
            proposers=[str(x) for x in raw.get("proposers") or []],
            rule=str(raw.get("rule", "")),
            quorum_percent=int(raw.get("quorumPercent", 0)),
            threshold_percent=int(raw.get("thresholdPercent", 0)),
            voting_period_seconds=int(raw.get("votingPeriodSeconds", 0)),
            review=None
            if not review
            else ModuleReview(
                reviewing_body=str(review.get("reviewingBody", "")),
                window_seconds=int(review.get("windowSeconds", 0)),
                veto_threshold_percent=int(review.get("vetoThresholdPercent", 0)),
                concern_extension_seconds=int(review.get("concernExtensionSeconds", 0)),
                appeal_veto_threshold_percent=review.get("appealVetoThresholdPercent"),
            ),
            delay_seconds=int(raw.get("delaySeconds", 0)),
            grace_period_seconds=int(raw.get("gracePeriodSeconds", 0)),
            allowed_actions=[str(x) for x in raw.get("allowedActions") or []],
            enabled=bool(raw.get("enabled", True)),
            feedback=None
            if not feedback
            else ModuleFeedback(
                commission_id=strawberry.ID(str(feedback.get("commissionId"))),
                window_seconds=int(feedback.get("windowSeconds", 0)),
                public=bool(feedback.get("public", False)),
            ),
            scope_body_ids=[strawberry.ID(str(b)) for b in raw.get("scope") or []],
            experiment_id=strawberry.ID(str(raw["experimentId"])) if raw.get("experimentId") else None,
        )


@strawberry.type(description="The effective policy: the organisation's decision settings.")
class Policy:
    voting_period_seconds: int = strawberry.field(description="How long proposals stay open for votes.")
    review_period_seconds: int = strawberry.field(description="How long the SHG's optimistic review lasts.")
    concern_extension_seconds: int = strawberry.field(
        description="How much the first concern extends a review (once)."
    )
    veto_threshold_percent: int = strawberry.field(
        description="Percent of SHG weight whose objections block a proposal under review."
    )
    quorum_percent: int = strawberry.field(description="Percent of eligible weight that must vote.")
    stakeholder_weighting: StakeholderWeighting = strawberry.field(description="How SHG votes are weighted.")
    cycle_length_seconds: int = strawberry.field(description="Length of a funding cycle.")
    community_proposals: bool = strawberry.field(description="Whether COMMUNITY proposals are enabled.")
    policy_delay_seconds: int = strawberry.field(
        description="Delay before a passed POLICY change is enacted."
    )
    modules: list[DecisionModule] = strawberry.field(
        description="The decision modules in force (empty until the proposals service has the organisation)."
    )

    @classmethod
    def from_values(cls, values: dict[str, Any], modules: list[dict[str, Any]] | None = None) -> Policy:
        settings = m.PolicySettings.model_validate(values)
        return cls(
            voting_period_seconds=settings.voting_period_seconds,
            review_period_seconds=settings.review_period_seconds,
            concern_extension_seconds=settings.concern_extension_seconds,
            veto_threshold_percent=settings.veto_threshold_percent,
            quorum_percent=settings.quorum_percent,
            stakeholder_weighting=StakeholderWeighting(settings.stakeholder_weighting),
            cycle_length_seconds=settings.cycle_length_seconds,
            community_proposals=settings.community_proposals,
            policy_delay_seconds=settings.policy_delay_seconds,
            modules=[DecisionModule.from_wire(module) for module in modules or []],
        )
