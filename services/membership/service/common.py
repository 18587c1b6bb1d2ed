"""Shared by the use cases: settings, clock, outbox, the steps several of them take (join, leave,
weights, lookups) and the views they answer with."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit import AlreadyExited, Clock, Envelope, InvalidInput, NotFound, Outbox, TokenKeyRing

from .. import domain, events, repository, schemas, signin
from ..config import Settings
from ..domain import BodyKind, CycleSchedule, Role
from ..events import OrgRef
from ..models import Body, Membership, Organization, Withdrawal

MAX_PAGE = 100
DEFAULT_PAGE = 20


def schedule_of(org: Organization) -> CycleSchedule:
    return CycleSchedule(tuple(domain.CycleSegment.from_dict(s) for s in org.cycle_segments))


def ref(org: Organization) -> OrgRef:
    return OrgRef(org.id, org.slug)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"seq": seq}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        seq = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["seq"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise InvalidInput("invalid cursor", field="after") from None
    if type(seq) is not int:
        raise InvalidInput("invalid cursor", field="after")
    return seq


def _str(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def parse_ids(values: Sequence[str], *, field: str = "ids") -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                ids.append(domain.parse_uuid(part.strip(), field=field))
    if len(ids) > MAX_PAGE:
        raise InvalidInput(f"at most {MAX_PAGE} ids at once", field=field)
    return ids


class ServiceBase:
    def __init__(self, settings: Settings, clock: Clock, outbox: Outbox) -> None:
        self.settings = settings
        self.clock = clock
        self.outbox = outbox
        self.keyring = TokenKeyRing.parse(settings.auth_token_keys)
        self.siwe = signin.SiweParams(
            domain=settings.siwe_domain,
            uri=settings.siwe_uri,
            chain_id=settings.siwe_chain_id,
            statement=settings.siwe_statement,
        )

    async def _emit(self, session: AsyncSession, envelope: Envelope) -> None:
        await self.outbox.add(session, envelope)

    # --- status ------------------------------------------------------------------------------------

    async def status_details(self, session: AsyncSession) -> dict[str, Any]:
        return await repository.status_counts(session, self.clock.now())

    # --- shared steps ------------------------------------------------------------------------------

    async def _join(
        self,
        session: AsyncSession,
        org: Organization,
        body: Body,
        address: str,
        display_name: str | None,
        role: Role,
        proposal_id: uuid.UUID | None,
        now: datetime,
        *,
        seat_group: str | None = None,
    ) -> None:
        await repository.upsert_member(session, address, display_name, now)
        membership = Membership(
            id=uuid.uuid4(),
            organization_id=org.id,
            body_id=body.id,
            address=address,
            role=role,
            joined_at=now,
            joined_proposal_id=proposal_id,
            seat_group=seat_group,
        )
        await repository.insert_membership(session, membership)
        weight = (await self._weights(session, org, [membership]))[membership.id]
        await self._emit(
            session,
            events.membership_joined(
                ref(org),
                body_id=body.id,
                body_kind=body.kind,
                address=address,
                role=role,
                weight=weight,
                proposal_id=proposal_id,
                now=now,
            ),
        )

    async def _leave(
        self,
        session: AsyncSession,
        org: Organization,
        body: Body,
        membership: Membership,
        reason: str,
        proposal_id: uuid.UUID | None,
        now: datetime,
    ) -> tuple[Decimal, tuple[int, ...]]:
        if not await repository.close_membership(
            session, membership.id, now=now, reason=reason, proposal_id=proposal_id
        ):
            raise AlreadyExited("already left this body")
        refund = domain.Refund(Decimal(0), (), ())
        if body.kind == BodyKind.STAKEHOLDER_GROUP:
            # leaving the SHG, by choice or by removal, returns what is pledged to unstarted cycles
            open_funds = await repository.open_commitments(session, org.id, membership.address)
            refund = domain.exit_refund(
                schedule_of(org), [domain.Pledge(c.id, c.cycle, c.amount) for c in open_funds], now
            )
            returned = [c for c in open_funds if c.id in set(refund.pledge_ids)]
            withdrawal = Withdrawal(
                id=uuid.uuid4(),
                organization_id=org.id,
                address=membership.address,
                membership_id=membership.id,
                amount=refund.amount,
                cycles=list(refund.cycles),
                proposal_id=proposal_id,
                created_at=now,
            )
            await repository.withdraw(session, withdrawal, returned, now=now)
            if refund.amount > 0:
                await self._emit(
                    session,
                    events.funds_withdrawn(
                        ref(org),
                        address=membership.address,
                        amount=refund.amount,
                        cycles=refund.cycles,
                        now=now,
                    ),
                )
        await self._emit(
            session,
            events.membership_left(
                ref(org),
                body_id=body.id,
                body_kind=body.kind,
                address=membership.address,
                role=membership.role,
                withdrawn=refund.amount,
                proposal_id=proposal_id,
                now=now,
            ),
        )
        return refund.amount, refund.cycles

    async def _body_created(
        self,
        session: AsyncSession,
        org: Organization,
        body: Body,
        proposal_id: uuid.UUID | None,
        now: datetime,
    ) -> None:
        await self._emit(
            session,
            events.body_created(
                ref(org),
                body_id=body.id,
                kind=body.kind,
                name=body.name,
                purpose=body.purpose,
                parent_id=body.parent_id,
                is_top_level=body.is_top_level,
                proposal_id=proposal_id,
                now=now,
            ),
        )

    async def _weights(
        self, session: AsyncSession, org: Organization, memberships: Sequence[Membership]
    ) -> dict[uuid.UUID, Decimal]:
        weighting = self._weighting(org)
        pledged: dict[str, Decimal] = {}
        stakeholders = [m.address for m in memberships if m.role == Role.STAKEHOLDER]
        if stakeholders and weighting == domain.StakeholderWeighting.COMMITTED_FUNDS:
            pledged = await repository.pledged_totals(session, org.id, stakeholders)
        return {
            m.id: domain.weight_of(m.role, weighting, pledged.get(m.address, Decimal(0))) for m in memberships
        }

    @staticmethod
    def _weighting(org: Organization) -> str:
        return str(org.policy.get("stakeholderWeighting", domain.DEFAULT_POLICY["stakeholderWeighting"]))

    async def _org_by_slug(self, session: AsyncSession, slug: str) -> Organization:
        org = await repository.get_organization(session, slug=slug)
        if org is None:
            raise NotFound(f"no organisation {slug}", field="slug")
        return org

    async def _org(self, session: AsyncSession, org_id: uuid.UUID) -> Organization:
        org = await repository.get_organization(session, id=org_id)
        if org is None:
            raise NotFound("no such organisation")
        return org

    async def _body(self, session: AsyncSession, body_id: uuid.UUID) -> Body:
        body = await repository.get_body(session, body_id)
        if body is None:
            raise NotFound("no such body", field="bodyId")
        return body

    async def _body_in(
        self, session: AsyncSession, org: Organization, body_id: uuid.UUID, *, cell: bool = False
    ) -> Body:
        body = await repository.get_body(session, body_id)
        if body is None or body.organization_id != org.id:
            raise NotFound(f"no body {body_id} in {org.slug}")
        if cell and body.kind != BodyKind.CELL:
            raise InvalidInput(f"{body.name} is not a cell")
        return body

    # --- views -------------------------------------------------------------------------------------

    def _organization_view(self, org: Organization, now: datetime) -> schemas.Organization:
        return schemas.Organization(
            id=str(org.id),
            slug=org.slug,
            name=org.name,
            purpose=org.purpose,
            stakeholder_group_id=str(org.stakeholder_group_id),
            top_level_cell_id=str(org.top_level_cell_id),
            policy=dict(org.policy),
            starts_at=org.starts_at,
            created_at=org.created_at,
            current_cycle=schedule_of(org).current(now),
        )

    @staticmethod
    def _body_view(
        body: Body, slug: str, children: list[uuid.UUID], commission: schemas.CommissionInfo | None = None
    ) -> schemas.Body:
        state = None
        if body.kind == BodyKind.CELL:
            state = schemas.CellState(
                status=body.state_status or domain.CellStateStatus.DRAFT,
                purpose=body.state_purpose or body.purpose,
                strategy=body.state_strategy or "",
                agreements=list(body.state_agreements or []),
                approved_at=body.state_approved_at,
                proposal_id=str(body.state_proposal_id) if body.state_proposal_id else None,
            )
        return schemas.Body(
            id=str(body.id),
            organization_id=str(body.organization_id),
            organization_slug=slug,
            kind=body.kind,
            name=body.name,
            purpose=body.purpose,
            parent_id=str(body.parent_id) if body.parent_id else None,
            is_top_level=body.is_top_level,
            child_ids=[str(c) for c in children],
            cell_state=state,
            core_team_count=body.core_team_count,
            created_at=body.created_at,
            commission=commission,
        )

    @staticmethod
    def _membership_view(
        membership: Membership, display_name: str | None, weight: Decimal
    ) -> schemas.Membership:
        return schemas.Membership(
            body_id=str(membership.body_id),
            address=domain.checksum(membership.address),
            display_name=display_name,
            role=membership.role,
            weight=domain.format_amount(weight if membership.left_at is None else Decimal(0)),
            joined_at=membership.joined_at,
            joined_proposal_id=_str(membership.joined_proposal_id),
            left_at=membership.left_at,
            left_proposal_id=_str(membership.left_proposal_id),
            seat_group=membership.seat_group,
        )
