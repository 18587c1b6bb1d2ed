"""Sign-In With Ethereum (EIP-4361) messages, built and verified with `signinwithethereum` (`siwe`).

Pure: the nonce's storage (single use, expiry, binding to the address) is the service's job; this
module builds the challenge text and checks a signed message against what the service expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import siwe
from pydantic import ValidationError

from kit import InvalidInput, Unauthenticated

from .domain import checksum, normalize_address


@dataclass(frozen=True)
class SiweParams:
    domain: str
    uri: str
    chain_id: int
    statement: str


def new_nonce() -> str:
    return siwe.generate_nonce()


def challenge_message(
    params: SiweParams, address: str, nonce: str, now: datetime, expires_at: datetime
) -> str:
    return siwe.SiweMessage(
        domain=params.domain,
        address=checksum(address),
        statement=params.statement,
        uri=params.uri,
        version="1",
        chain_id=params.chain_id,
        nonce=nonce,
        issued_at=siwe.ISO8601Datetime.from_datetime(now),
        expiration_time=siwe.ISO8601Datetime.from_datetime(expires_at),
    ).prepare_message()


@dataclass(frozen=True)
class ParsedSignIn:
    message: siwe.SiweMessage
    address: str  # normalised (lower-case)
    nonce: str


def parse(message: str) -> ParsedSignIn:
    try:
        parsed = siwe.SiweMessage.from_message(message)
    except (ValueError, ValidationError, siwe.VerificationError):
        raise InvalidInput("not an EIP-4361 sign-in message", field="message") from None
    return ParsedSignIn(parsed, normalize_address(parsed.address, field="message"), parsed.nonce)


_REASONS: dict[type[siwe.VerificationError], str] = {
    siwe.InvalidSignature: "the signature does not match the message's address",
    siwe.ExpiredMessage: "the sign-in message has expired",
    siwe.NotYetValidMessage: "the sign-in message is not valid yet",
    siwe.DomainMismatch: "the sign-in message is for another domain",
    siwe.UriMismatch: "the sign-in message is for another URI",
    siwe.ChainIdMismatch: "the sign-in message is for another chain",
    siwe.NonceMismatch: "the sign-in message's nonce does not match",
}


def verify(parsed: ParsedSignIn, signature: str, params: SiweParams, now: datetime) -> None:
    """EIP-191 signature, domain, URI, chain id, nonce and validity times; raises Unauthenticated."""
    try:
        parsed.message.verify(
            signature,
            domain=params.domain,
            uri=params.uri,
            chain_id=params.chain_id,
            nonce=parsed.nonce,
            timestamp=now,
            strict=True,
        )
    except siwe.VerificationError as exc:
        reason = next(
            (r for cls, r in _REASONS.items() if isinstance(exc, cls)), "sign-in verification failed"
        )
        raise Unauthenticated(reason) from None
