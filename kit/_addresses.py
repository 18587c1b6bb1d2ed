"""Ethereum addresses as every service stores and shows them: lower-case hex inside, EIP-55 outside."""

from __future__ import annotations

import functools
import re
from typing import Any

from eth_utils import is_checksum_address, to_checksum_address

from ._errors import InvalidInput

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


def normalize_address(address: Any, *, field: str = "address") -> str:
    """The stored form of an Ethereum address: lower-case hex.

    Any case is accepted, but a mixed-case address must carry a valid EIP-55 checksum: mixed case is
    how a checksummed address is written, and a wrong checksum means a typo.
    """
    if not isinstance(address, str) or not ADDRESS_RE.fullmatch(address):
        raise InvalidInput("not an Ethereum address (0x and 40 hex digits)", field=field)
    digits = address[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(address):
        raise InvalidInput("the address's EIP-55 checksum is wrong", field=field)
    return address.lower()


# A page or an event names the same few members again and again, and one EIP-55 checksum (a keccak
# behind eth_utils' validating decorators) costs ~40-50 µs: bench/README.md, "Where the time goes".
@functools.lru_cache(maxsize=65536)
def checksum(address: str) -> str:
    """EIP-55 form for output; anything that is not an address (never expected) as it came."""
    try:
        return to_checksum_address(address)
    except ValueError:
        return address
