"""Webhook rules, pure: which URLs and subject filters an endpoint may have, which events it receives,
how a delivery is signed, and what one attempt's result does to a delivery.

Errors (kit.errors):

    DomainError
    ├── InvalidInput     a URL or a subject filter an endpoint may not have (`field` url / subjects[i])
    ├── Unauthenticated  nobody signed in
    ├── Forbidden        not a Stakeholder Group member or TLC core team member of the organisation
    ├── NotFound         no such organisation, or no such endpoint of the caller's organisations
    └── Conflict         the organisation already has the most endpoints allowed
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from kit import InvalidInput

MAX_ENDPOINTS_PER_ORGANIZATION = 20
MAX_FILTERS = 20
MAX_URL_LENGTH = 2000
# a delivery's last error as shown to the organisation (a receiver's answer may be long)
MAX_ERROR_LENGTH = 500
EVERYTHING = ">"
# a sender's lease on a delivery outlasts its request by this much before the attempt is given back
LEASE_MARGIN_SECONDS = 5.0
# events older than their endpoint by more than this are not sent to it (a consumer catching up on
# history, a replay), with room for clock differences between the services
REGISTERED_BEFORE_EVENT_TOLERANCE_SECONDS = 300

# the durable deadlines of the webhooks: an attempt due, and a sender's lease running out
ATTEMPT_KIND = "webhook_attempt"
LEASE_KIND = "webhook_lease"

_TOKEN = re.compile(r"^[a-z_]+$")


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # an attempt is scheduled (a durable deadline)
    SENDING = "SENDING"  # leased to a sender until `lease_until`
    DELIVERED = "DELIVERED"
    DEAD = "DEAD"  # every attempt allowed failed


# --- what an endpoint may be ----------------------------------------------------------------------


def parse_filters(subjects: list[str] | None) -> list[str]:
    """Subject filters relative to the organisation (`proposal.>`, `vote.cast`, `*.created`, `>`):
    `<aggregate>.<event>` tokens with the NATS wildcards `*` (one token) and `>` (the rest)."""
    if not subjects:
        return [EVERYTHING]
    if len(subjects) > MAX_FILTERS:
        raise InvalidInput(f"at most {MAX_FILTERS} subject filters", field="subjects")
    out: list[str] = []
    for index, subject in enumerate(subjects):
        tokens = subject.strip().split(".")
        valid = 1 <= len(tokens) <= 2 and all(
            _TOKEN.match(t) or t == "*" or (t == ">" and i == len(tokens) - 1) for i, t in enumerate(tokens)
        )
        if not valid or (len(tokens) == 1 and tokens[0] != ">"):
            raise InvalidInput(
                f"{subject!r} is not a subject filter like 'proposal.>', 'vote.cast' or '>'",
                field=f"subjects[{index}]",
            )
        if subject.strip() not in out:
            out.append(subject.strip())
    return out


def matches(filters: list[str], tail: str) -> bool:
    """Does `<aggregate>.<event>` match one of the filters?"""
    tokens = tail.split(".")
    for pattern in filters:
        parts = pattern.split(".")
        for i, part in enumerate(parts):
            if part == ">":
                return True
            if i >= len(tokens) or (part != "*" and part != tokens[i]):
                break
        else:
            if len(parts) == len(tokens):
                return True
    return False


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int


def parse_url(url: str, *, require_https: bool) -> Target:
    """An absolute http(s) URL without credentials; https unless the deployment allows plain http."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"the URL is longer than {MAX_URL_LENGTH} characters", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"not a valid URL: {exc}", field="url") from None
    allowed = ("https",) if require_https else ("https", "http")
    if parts.scheme not in allowed:
        raise InvalidInput(f"the URL must start with {' or '.join(allowed)}://", field="url")
    if not parts.hostname:
        raise InvalidInput("the URL has no host", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("credentials do not belong in the URL; verify our signature instead", field="url")
    if parts.fragment:
        raise InvalidInput("the URL may not have a fragment", field="url")
    return Target(
        url=url,
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or (443 if parts.scheme == "https" else 80),
    )


def ip_literal(host: str) -> str | None:
    """The host itself when it is an IP address (no lookup needed), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def is_public(address: str) -> bool:
    """A globally routable unicast address: not private, loopback, link-local (cloud metadata),
    shared, reserved, multicast or unspecified, also when IPv4 is mapped into IPv6."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def refuse_unless_public(addresses: list[str], *, allow_private: bool) -> None:
    if not addresses:
        raise InvalidInput("the URL's host does not resolve", field="url")
    if allow_private:
        return
    private = [a for a in addresses if not is_public(a)]
    if private:
        raise InvalidInput(
            f"the URL resolves to a private or local address ({private[0]}): refused", field="url"
        )


# --- signing ----------------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>` (docs/events.md)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


# --- attempts ---------------------------------------------------------------------------------------


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """Wait after failed attempt `attempt` (1, 2, …): base, 2·base, 4·base, … at most `cap`."""
    return min(cap, base * 2 ** (attempt - 1))


@dataclass(frozen=True)
class Outcome:
    """What one attempt's result makes of its delivery."""

    status: DeliveryStatus
    retry_at: datetime | None


def after_attempt(
    attempt: int,
    status_code: int | None,
    *,
    now: datetime,
    max_attempts: int,
    base: float,
    cap: float,
) -> Outcome:
    """A 2xx answer delivers; anything else (another status, a timeout, a refused connection) is retried
    with exponential backoff, and after `max_attempts` attempts the delivery is dead."""
    if status_code is not None and 200 <= status_code < 300:
        return Outcome(DeliveryStatus.DELIVERED, None)
    if attempt >= max_attempts:
        return Outcome(DeliveryStatus.DEAD, None)
    wait = backoff_seconds(attempt, base=base, cap=cap)
    return Outcome(DeliveryStatus.PENDING, now + timedelta(seconds=wait))
