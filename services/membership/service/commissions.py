"""Feedback commissions (seed 002): created, and their seats filled, by the TLC core team or the
Stakeholder Group's members, within the quotas of each seat group (`domain`, "feedback commissions").

Filling a seat publishes `membership.joined` (role COMMISSIONER, as for any body: the other services'
projections need nothing new) and then `commission.seated` with the group and the selection method."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kit import Conflict, Forbidden, InvalidInput, NotFound

from .. import domain, events, repository, schemas
from ..domain import BodyKind, Role
from ..models import Body, Commission, Organization
from .common import ServiceBase, ref


class Commissions(ServiceBase):
    async def _require_steward(self, session: AsyncSession, org: Organization, actor: str) -> None:
        """The TLC core team and the SHG's members set up commissions (they may propose POLICY too)."""
        tlc = await repository.current_membership(session, org.top_level_cell_id, actor)
        shg = await repository.current_membership(session, org.stakeholder_group_id, actor)
        if not ((tlc is not None and tlc.role == Role.CORE_TEAM) or shg is not None):
            raise Forbidden("only the TLC core team or the Stakeholder Group may do this")

    async def create_commission(
        self, session: AsyncSession, actor: str, slug: str, data: schemas.CommissionInput
    ) -> schemas.Body:
        org = await self._org_by_slug(session, slug)
        await self._require_steward(session, org, actor)
        seats = domain.parse_seats([s.model_dump() for s in data.seats])
        selection = domain.parse_selection(data.selection)
        now = self.clock.now()
        body = Body(
            id=uuid.uuid4(),
            organization_id=org.id,
            kind=BodyKind.COMMISSION,
            name=domain.clean_text(data.name, field="name", max_length=domain.MAX_NAME),
            purpose=domain.clean_text(data.purpose, field="purpose"),
            parent_id=None,
            is_top_level=False,
            created_at=now,
        )
        await repository.insert_body(session, body)
        commission = Commission(
            body_id=body.id,
            organization_id=org.id,
            seats=[g.to_dict() for g in seats],
            selection=selection,
            created_by=actor,
            created_at=now,
        )
        await repository.insert_commission(session, commission)
        await self._body_created(session, org, body, None, now)
        await self._emit(
            session,
            events.commission_created(
                ref(org),
                body_id=body.id,
                name=body.name,
                seats=commission.seats,
                selection=selection,
                created_by=actor,
                now=now,
            ),
        )
        for i, seat in enumerate(data.members):
            await self._seat(session, org, body, commission, actor, seat, selection, field=f"members[{i}]")
        return (await self.get_bodies(session, [str(body.id)]))[0]

    async def commissions(self, session: AsyncSession, slug: str) -> list[schemas.Body]:
        org = await self._org_by_slug(session, slug)
        ids = await repository.commission_ids(session, org.id)
        return await self.get_bodies(session, [str(i) for i in ids])

    async def _commission(self, session: AsyncSession, body_id: str) -> tuple[Organization, Body, Commission]:
        body = await self._body(session, domain.parse_uuid(body_id, field="bodyId"))
        commission = await repository.lock_commission(session, body.id)
        if commission is None:
            raise NotFound("no such commission", field="bodyId")
        return await self._org(session, body.organization_id), body, commission

    async def _seat(
        self,
        session: AsyncSession,
        org: Organization,
        body: Body,
        commission: Commission,
        actor: str,
        seat: schemas.SeatInput,
        selection: str,
        *,
        field: str = "address",
    ) -> None:
        address = domain.normalize_address(
            seat.address, field=f"{field}.address" if field != "address" else field
        )
        groups = [domain.SeatGroup(g["group"], int(g["seats"])) for g in commission.seats]
        taken = (await repository.seats_taken(session, [body.id]))[body.id]
        if domain.free_seats(groups, taken, seat.group) == 0:
            raise Conflict(f"the {seat.group} seats of this commission are all taken", field="group")
        if await repository.current_membership(session, body.id, address) is not None:
            raise Conflict(f"{domain.checksum(address)} already sits on this commission", field=field)
        now = self.clock.now()
        display = domain.clean_display_name(seat.display_name)
        await self._join(
            session, org, body, address, display, Role.COMMISSIONER, None, now, seat_group=seat.group
        )
        await self._emit(
            session,
            events.commission_seated(
                ref(org),
                body_id=body.id,
                address=address,
                group=seat.group,
                selection=selection,
                seated_by=actor,
                now=now,
            ),
        )

    async def seat_commissioner(
        self, session: AsyncSession, actor: str, body_id: str, data: schemas.SeatInput
    ) -> schemas.Body:
        """Fill a seat with a named member: appointed, or the winner of an election held elsewhere."""
        org, body, commission = await self._commission(session, body_id)
        await self._require_steward(session, org, actor)
        await self._seat(session, org, body, commission, actor, data, commission.selection)
        return (await self.get_bodies(session, [str(body.id)]))[0]

    async def draw_commissioners(
        self, session: AsyncSession, actor: str, body_id: str, data: schemas.DrawInput
    ) -> schemas.Body:
        """Fill a group's free seats (or `count` of them) by lot among a body's current members."""
        org, body, commission = await self._commission(session, body_id)
        await self._require_steward(session, org, actor)
        source = await self._body_in(session, org, domain.parse_uuid(data.from_body_id, field="fromBodyId"))
        groups = [domain.SeatGroup(g["group"], int(g["seats"])) for g in commission.seats]
        free = domain.free_seats(
            groups, (await repository.seats_taken(session, [body.id]))[body.id], data.group
        )
        wanted = free if data.count is None else data.count
        if not 1 <= wanted <= free:
            raise InvalidInput(f"{free} seats of {data.group} are free", field="count")
        seated = set(await repository.current_member_addresses(session, body.id))
        pool = [a for a in await repository.current_member_addresses(session, source.id) if a not in seated]
        if len(pool) < wanted:
            raise Conflict(f"{source.name} has only {len(pool)} members to draw from", field="fromBodyId")
        # a lot nobody can predict or steer: the OS's randomness, not a seeded generator
        for address in secrets.SystemRandom().sample(pool, wanted):
            await self._seat(
                session,
                org,
                body,
                commission,
                actor,
                schemas.SeatInput(address=address, group=data.group),
                "RANDOM",
            )
        return (await self.get_bodies(session, [str(body.id)]))[0]
