"""Identifiers from clients, checked before they reach a URL: a bad one is NOT_FOUND or INVALID_INPUT
here rather than a confusing answer from a service."""

from __future__ import annotations

import functools
import re
import uuid

from eth_utils import to_checksum_address

from kit import InvalidInput

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,46})[a-z0-9]$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def is_slug(value: str) -> bool:
    return bool(_SLUG.fullmatch(value))


def is_address(value: str) -> bool:
    return bool(_ADDRESS.fullmatch(value))


def require_uuid(value: str, field: str) -> str:
    if not is_uuid(value):
        raise InvalidInput(f"{field} is not a valid id", field=field)
    return str(value)


def require_slug(value: str, field: str = "organization") -> str:
    if not is_slug(value):
        raise InvalidInput(f"{field} is not an organisation slug", field=field)
    return value


def require_address(value: str, field: str = "address") -> str:
    if not is_address(value):
        raise InvalidInput(f"{field} is not an Ethereum address", field=field)
    return value


# a page names the same few members again and again, and one EIP-55 checksum (a keccak through
# eth_utils' validating decorators) costs ~40 µs: bench/README.md, "Where the time goes"
@functools.lru_cache(maxsize=65536)
def checksum(address: str) -> str:
    """EIP-55 form for output; anything that is not an address (never expected) as it came."""
    try:
        return to_checksum_address(address)
    except ValueError:
        return address
