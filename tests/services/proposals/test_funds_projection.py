"""The projection of committed funds follows the funds stream's order, whatever the delivery order."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from services.proposals import repository

from .support import STAKEHOLDERS, Org


def _committed(org: Org, who: str, cycle: int, amount: str):
    return org.membership("funds", org.id, "committed", {"address": who, "cycle": cycle, "amount": amount})


def _withdrawn(org: Org, who: str, cycles: list[int]):
    return org.membership("funds", org.id, "withdrawn", {"address": who, "amount": "0", "cycles": cycles})


async def _available(h, org: Org, cycles: list[int]) -> dict[int, Decimal]:
    async with h.runtime.db.session() as session:
        return await repository.available_funds(session, org.id, cycles)


# committed 5 → withdrawn → committed 7 (same stakeholder, same cycle): 7 stands in every delivery order
@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
async def test_a_withdrawal_takes_back_only_the_commitments_made_before_it(h, order):
    org = await h.found()
    who = STAKEHOLDERS[0]
    history = [_committed(org, who, 3, "5"), _withdrawn(org, who, [3]), _committed(org, who, 3, "7")]
    for index in order:
        assert await h.deliver(history[index])
    assert await _available(h, org, [3]) == {3: Decimal(7)}


async def test_commitments_of_other_cycles_and_stakeholders_survive_a_withdrawal(h):
    org = await h.found()
    a, b = STAKEHOLDERS[0], STAKEHOLDERS[1]
    for envelope in (
        _committed(org, a, 1, "2"),
        _committed(org, a, 2, "3"),
        _committed(org, b, 1, "4"),
        _committed(org, a, 1, "1.5"),
        _withdrawn(org, a, [1]),
    ):
        assert await h.deliver(envelope)
    assert await _available(h, org, [1, 2]) == {1: Decimal(4), 2: Decimal(3)}


async def test_a_redelivered_commitment_counts_once(h):
    org = await h.found()
    envelope = _committed(org, STAKEHOLDERS[0], 4, "6")
    assert await h.deliver(envelope)
    assert not await h.deliver(envelope)
    assert await _available(h, org, [4]) == {4: Decimal(6)}
