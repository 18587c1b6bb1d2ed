"""The webhook rules, pure: filters, addresses, signatures, what an attempt's result does."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from kit import InvalidInput
from services.timelock.webhooks.domain import (
    DeliveryStatus,
    after_attempt,
    backoff_seconds,
    is_public,
    matches,
    parse_filters,
    signature,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("filters", "tail", "expected"),
    [
        ([">"], "proposal.enacted", True),
        (["proposal.>"], "proposal.enacted", True),
        (["proposal.>"], "vote.cast", False),
        (["proposal.enacted"], "proposal.enacted", True),
        (["proposal.enacted"], "proposal.enacted_x", False),
        (["*.created"], "body.created", True),
        (["*.created"], "proposal.enacted", False),
        (["proposal.*"], "proposal.voting_closed", True),
        (["vote.cast", "review.>"], "review.blocked", True),
    ],
)
def test_a_filter_matches_aggregate_and_event_like_a_nats_subject(filters, tail, expected) -> None:
    assert matches(filters, tail) is expected


def test_no_filter_means_every_event_of_the_organisation() -> None:
    assert parse_filters(None) == [">"]
    assert parse_filters([]) == [">"]


def test_repeated_filters_are_kept_once() -> None:
    assert parse_filters(["vote.cast", " vote.cast "]) == ["vote.cast"]


def test_more_filters_than_allowed_are_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_filters([f"proposal.e{i}" for i in range(21)])
    assert refused.value.field == "subjects"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_only_globally_routable_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_the_signature_is_the_hex_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"e1"}'
    expected = hmac.new(b"whsec_k", b'1700000000.{"id":"e1"}', hashlib.sha256).hexdigest()

    assert signature("whsec_k", 1700000000, body) == f"v1={expected}"


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_seconds(n, base=10, cap=60) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_a_2xx_answer_delivers(status: int) -> None:
    assert (
        after_attempt(1, status, now=NOW, max_attempts=3, base=10, cap=60).status is DeliveryStatus.DELIVERED
    )


@pytest.mark.parametrize("status", [None, 301, 400, 410, 500, 503])
def test_any_other_answer_is_retried_after_the_backoff(status: int | None) -> None:
    outcome = after_attempt(2, status, now=NOW, max_attempts=3, base=10, cap=60)

    assert (outcome.status, outcome.retry_at) == (DeliveryStatus.PENDING, NOW + timedelta(seconds=20))


def test_the_last_attempt_failing_makes_the_delivery_dead() -> None:
    outcome = after_attempt(3, 500, now=NOW, max_attempts=3, base=10, cap=60)

    assert (outcome.status, outcome.retry_at) == (DeliveryStatus.DEAD, None)
