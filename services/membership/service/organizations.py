"""Organisations, bodies and members: creation and reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kit import InvalidInput, NotFound

from .. import domain, events, repository, schemas
from ..domain import BodyKind, CellState, CycleSchedule, Role
from ..models import Body, Organization
from .common import MAX_PAGE, ServiceBase, decode_cursor, encode_cursor, parse_ids, ref


class Organizations(ServiceBase):
    async def create_organization(
        self, session: AsyncSession, actor: str, data: schemas.CreateOrganizationInput
    ) -> schemas.Organization:
        """Organisation, Stakeholder Group and Top Level Cell, with their first members, at once."""
        slug = domain.validate_slug(data.slug)
        name = domain.clean_text(data.name, field="name", max_length=domain.MAX_NAME)
        purpose = domain.clean_text(data.purpose, field="purpose")
        policy = domain.effective_policy(
            data.policy.model_dump(by_alias=True, exclude_none=True) if data.policy else None
        )
        stakeholders = domain.parse_member_specs(
            [m.model_dump(by_alias=True) for m in data.stakeholders], field="stakeholders"
        )
        if not stakeholders:
            raise InvalidInput("an organisation needs at least one stakeholder", field="stakeholders")
        tlc = data.top_level_cell
        tlc_name = domain.clean_text(tlc.name, field="topLevelCell.name", max_length=domain.MAX_NAME)
        tlc_purpose = domain.clean_text(tlc.purpose, field="topLevelCell.purpose")
        core_team = domain.parse_member_specs(
            [m.model_dump(by_alias=True) for m in tlc.core_team], field="topLevelCell.coreTeam"
        )
        if not core_team:
            raise InvalidInput("the Top Level Cell needs a core team", field="topLevelCell.coreTeam")
        domain.check_core_team_size(len(core_team), field="topLevelCell.coreTeam")

        now = self.clock.now()
        org = Organization(
            id=uuid.uuid4(),
            slug=slug,
            name=name,
            purpose=purpose,
            policy=policy,
            starts_at=now,
            cycle_segments=[
                s.to_dict() for s in CycleSchedule.starting(now, int(policy["cycleLengthSeconds"])).segments
            ],
            stakeholder_group_id=uuid.uuid4(),
            top_level_cell_id=uuid.uuid4(),
            created_by=actor,
            created_at=now,
        )
        await repository.insert_organization(session, org)
        shg = Body(
            id=org.stakeholder_group_id,
            organization_id=org.id,
            kind=BodyKind.STAKEHOLDER_GROUP,
            name=f"{name} Stakeholder Group",
            purpose=purpose,
            parent_id=None,
            is_top_level=False,
            created_at=now,
        )
        draft = CellState.draft(tlc_purpose)
        top = Body(
            id=org.top_level_cell_id,
            organization_id=org.id,
            kind=BodyKind.CELL,
            name=tlc_name,
            purpose=tlc_purpose,
            parent_id=None,
            is_top_level=True,
            state_status=draft.status,
            state_purpose=draft.purpose,
            state_strategy=draft.strategy,
            state_agreements=[],
            created_at=now,
        )
        await repository.insert_body(session, shg)
        await repository.insert_body(session, top)
        await self._emit(
            session,
            events.organization_created(
                ref(org),
                name=name,
                purpose=purpose,
                stakeholder_group_id=shg.id,
                top_level_cell_id=top.id,
                policy=policy,
                starts_at=now,
                now=now,
            ),
        )
        for body in (shg, top):
            await self._body_created(session, org, body, None, now)
        for spec in stakeholders:
            await self._join(session, org, shg, spec.address, spec.display_name, Role.STAKEHOLDER, None, now)
        for spec in core_team:
            await self._join(session, org, top, spec.address, spec.display_name, Role.CORE_TEAM, None, now)
        return self._organization_view(org, now)

    async def get_organization(self, session: AsyncSession, slug: str) -> schemas.Organization:
        org = await self._org_by_slug(session, slug)
        return self._organization_view(org, self.clock.now())

    async def get_organizations(
        self, session: AsyncSession, ids: Sequence[str]
    ) -> list[schemas.Organization]:
        now = self.clock.now()
        return [
            self._organization_view(o, now)
            for o in await repository.get_organizations(session, parse_ids(ids))
        ]

    # --- bodies and members ------------------------------------------------------------------------

    async def get_body(self, session: AsyncSession, body_id: str) -> schemas.Body:
        views = await self.get_bodies(session, [body_id])
        if not views:
            raise NotFound("no such body", field="id")
        return views[0]

    async def get_bodies(self, session: AsyncSession, ids: Sequence[str]) -> list[schemas.Body]:
        bodies = await repository.get_bodies(session, parse_ids(ids))
        if not bodies:
            return []
        slugs = await repository.organization_slugs(session, {b.organization_id for b in bodies})
        children = await repository.child_ids(session, [b.id for b in bodies])
        commissions = await self._commission_infos(
            session, [b.id for b in bodies if b.kind == domain.BodyKind.COMMISSION]
        )
        return [
            self._body_view(b, slugs[b.organization_id], children.get(b.id, []), commissions.get(b.id))
            for b in bodies
        ]

    async def _commission_infos(
        self, session: AsyncSession, body_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, schemas.CommissionInfo]:
        if not body_ids:
            return {}
        taken = await repository.seats_taken(session, body_ids)
        return {
            c.body_id: schemas.CommissionInfo(
                seats=[
                    schemas.SeatGroup(
                        group=g["group"], seats=g["seats"], taken=taken[c.body_id].get(g["group"], 0)
                    )
                    for g in c.seats
                ],
                selection=c.selection,
                created_by=domain.checksum(c.created_by),
            )
            for c in await repository.get_commissions(session, body_ids)
        }

    async def body_members(
        self, session: AsyncSession, body_id: str, *, first: int, after: str | None
    ) -> schemas.Page[schemas.Membership]:
        if not 1 <= first <= MAX_PAGE:
            raise InvalidInput(f"first must be from 1 to {MAX_PAGE}", field="first")
        body = await self._body(session, domain.parse_uuid(body_id, field="id"))
        org = await self._org(session, body.organization_id)
        rows, total = await repository.page_current_members(
            session, body.id, first=first, after=decode_cursor(after) if after else None
        )
        has_next = len(rows) > first
        rows = rows[:first]
        weights = await self._weights(session, org, [r.membership for r in rows])
        items = [self._membership_view(r.membership, r.display_name, weights[r.membership.id]) for r in rows]
        end = encode_cursor(rows[-1].membership.seq) if rows else None
        return schemas.Page(items=items, total_count=total, end_cursor=end, has_next_page=has_next)

    async def get_members(self, session: AsyncSession, addresses: Sequence[str]) -> list[schemas.Member]:
        normalised = [
            domain.normalize_address(part.strip(), field="addresses")
            for value in addresses
            for part in value.split(",")
            if part.strip()
        ]
        if len(normalised) > MAX_PAGE:
            raise InvalidInput(f"at most {MAX_PAGE} addresses at once", field="addresses")
        members = await repository.get_members(session, normalised)
        return [
            schemas.Member(address=domain.checksum(m.address), display_name=m.display_name) for m in members
        ]

    async def member_memberships(
        self, session: AsyncSession, address: str, *, include_former: bool = False
    ) -> list[schemas.MembershipWithBody]:
        """A person's memberships across organisations; with `include_former`, their history too
        (joined, left, and by which proposals)."""
        address = domain.normalize_address(address)
        rows = await repository.memberships_of(session, address, include_former=include_former)
        org_ids = list({body.organization_id for _, _, body in rows})
        orgs = {o.id: o for o in await repository.get_organizations(session, org_ids)}
        weights: dict[uuid.UUID, Decimal] = {}
        for org in orgs.values():
            weights.update(
                await self._weights(session, org, [m for m, _, b in rows if b.organization_id == org.id])
            )
        result: list[schemas.MembershipWithBody] = []
        for membership, display_name, body in rows:
            org = orgs[body.organization_id]
            view = self._membership_view(membership, display_name, weights[membership.id])
            result.append(
                schemas.MembershipWithBody(
                    **view.model_dump(),
                    body=schemas.BodySummary(
                        id=str(body.id),
                        organization_id=str(org.id),
                        organization_slug=org.slug,
                        kind=body.kind,
                        name=body.name,
                        is_top_level=body.is_top_level,
                    ),
                )
            )
        return result
