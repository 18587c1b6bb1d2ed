"""Identifiers from clients, checked before they reach a URL: a bad one is NOT_FOUND or INVALID_INPUT
here rather than a confusing answer from a service."""

from __future__ import annotations

import re
import uuid

from kit import InvalidInput
from kit import checksum as checksum  # re-exported for the schema's types

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
