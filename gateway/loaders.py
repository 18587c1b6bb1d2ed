"""Per-request DataLoaders: every read a query makes goes through one of these.

A page of proposals with their bodies, proposers, tallies and reviews costs a fixed number of service
calls (one batch per kind of thing), not one per row. Loaders live for one request, so no member ever
sees another's cached answer and nothing is stale beyond the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TypeVar

from strawberry.dataloader import DataLoader

from gateway.clients import MembershipClient, ProposalsClient, TimelockClient
from gateway.clients import metagovernance as mg
from gateway.clients import models as m

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# The services cap a page at 100 and so do the batch reads.
MAX_BATCH = 100
# Plain (unpaginated) lists in the schema are read whole, up to this many pages of 100.
MAX_PAGES = 20


def _by_key(keys: Sequence[K], items: Sequence[V], key_of: Callable[[V], K]) -> list[V | None]:
    found = {key_of(item): item for item in items}
    return [found.get(key) for key in keys]


def _each(fetch: Callable[[K], Awaitable[V]]) -> Callable[[list[K]], Awaitable[list[V | BaseException]]]:
    """For reads the services only offer one at a time: run a batch's calls concurrently."""

    async def load(keys: list[K]) -> list[V | BaseException]:
        return list(await asyncio.gather(*(fetch(key) for key in keys), return_exceptions=True))

    return load


class Loaders:
    def __init__(
        self, membership: MembershipClient, proposals: ProposalsClient, timelock: TimelockClient
    ) -> None:
        self._membership = membership
        self._proposals = proposals
        self._timelock = timelock

        self.organization_by_slug: DataLoader[str, m.Organization | None] = DataLoader(
            _each(self._organization_by_slug)
        )
        self.organization: DataLoader[str, m.Organization | None] = DataLoader(
            self._organizations, max_batch_size=MAX_BATCH
        )
        self.body: DataLoader[str, m.Body | None] = DataLoader(self._bodies, max_batch_size=MAX_BATCH)
        self.member: DataLoader[str, m.Member | None] = DataLoader(
            self._members, max_batch_size=MAX_BATCH, cache_key_fn=str.lower
        )
        self.body_members: DataLoader[str, list[m.Membership]] = DataLoader(_each(self._body_members))
        self.memberships: DataLoader[str, list[m.Membership]] = DataLoader(
            _each(self._membership.memberships), cache_key_fn=str.lower
        )
        self.treasury: DataLoader[str, m.Treasury] = DataLoader(_each(self._membership.treasury))
        self.policy: DataLoader[str, m.Policy | None] = DataLoader(_each(self._proposals.policy))
        self.proposal: DataLoader[str, m.Proposal | None] = DataLoader(
            self._proposals_by_id, max_batch_size=MAX_BATCH
        )
        self.votes: DataLoader[str, list[m.Vote]] = DataLoader(_each(self._votes))
        self.history: DataLoader[str, list[m.HistoryEntry]] = DataLoader(_each(self._proposals.history))
        self.review: DataLoader[str, m.Review | None] = DataLoader(self._reviews, max_batch_size=MAX_BATCH)
        # metagovernance
        self.registry: DataLoader[str, list[dict]] = DataLoader(_each(self._proposals.registry))
        self.experiment: DataLoader[str, mg.Experiment | None] = DataLoader(_each(self._proposals.experiment))
        self.feedback: DataLoader[str, list[mg.Feedback] | None] = DataLoader(_each(self._proposals.feedback))
        self.polls_by_proposal: DataLoader[str, list[mg.Poll]] = DataLoader(
            self._polls_by_proposal, max_batch_size=MAX_BATCH
        )

    def prime_organization(self, organization: m.Organization) -> None:
        self.organization.prime(organization.id, organization)
        self.organization_by_slug.prime(organization.slug, organization)

    def prime_proposal(self, proposal: m.Proposal) -> None:
        # a write's answer replaces whatever this request read before it
        self.proposal.prime(proposal.id, proposal, force=True)

    async def _organization_by_slug(self, slug: str) -> m.Organization | None:
        organization = await self._membership.organization(slug)
        if organization is not None:
            self.organization.prime(organization.id, organization)
        return organization

    async def _organizations(self, ids: list[str]) -> list[m.Organization | None]:
        found = await self._membership.organizations(ids)
        for organization in found:
            self.organization_by_slug.prime(organization.slug, organization)
        return _by_key(ids, found, lambda o: o.id)

    async def _bodies(self, ids: list[str]) -> list[m.Body | None]:
        return _by_key(ids, await self._membership.bodies(ids), lambda b: b.id)

    async def _members(self, addresses: list[str]) -> list[m.Member | None]:
        found = await self._membership.members(addresses)
        return _by_key([a.lower() for a in addresses], found, lambda member: member.address.lower())

    async def _body_members(self, body_id: str) -> list[m.Membership]:
        items: list[m.Membership] = []
        after = None
        for _ in range(MAX_PAGES):
            page = await self._membership.body_members(body_id, first=100, after=after)
            items += [m.Membership.model_validate(item) for item in page.items]
            if not page.has_next_page or not page.end_cursor:
                break
            after = page.end_cursor
        return items

    async def _proposals_by_id(self, ids: list[str]) -> list[m.Proposal | None]:
        return _by_key(ids, await self._proposals.proposals(ids), lambda p: p.id)

    async def _votes(self, proposal_id: str) -> list[m.Vote]:
        items: list[m.Vote] = []
        after = None
        for _ in range(MAX_PAGES):
            page = await self._proposals.votes(proposal_id, first=100, after=after)
            items += [m.Vote.model_validate(item) for item in page.items]
            if not page.has_next_page or not page.end_cursor:
                break
            after = page.end_cursor
        return items

    async def _polls_by_proposal(self, proposal_ids: list[str]) -> list[list[mg.Poll]]:
        found = await self._proposals.polls_of_proposals(proposal_ids)
        return [[p for p in found if p.proposal_id == pid] for pid in proposal_ids]

    async def _reviews(self, proposal_ids: list[str]) -> list[m.Review | None]:
        return _by_key(proposal_ids, await self._timelock.reviews(proposal_ids), lambda r: r.proposal_id)
