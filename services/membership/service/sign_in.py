"""Sign-In With Ethereum: challenges with single-use nonces, and member tokens."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kit import Unauthenticated

from .. import domain, repository, schemas, signin
from ..models import SignInNonce
from .common import ServiceBase

# stale challenges are kept a while after expiry so that a late sign-in is told "expired", not "unknown"
NONCE_RETENTION = timedelta(hours=1)


class SignIn(ServiceBase):
    async def challenge(self, session: AsyncSession, address: str) -> schemas.Challenge:
        address = domain.normalize_address(address)
        now = self.clock.now()
        expires_at = now + timedelta(seconds=self.settings.nonce_ttl_seconds)
        nonce = signin.new_nonce()
        await repository.purge_nonces(session, now - NONCE_RETENTION)
        await repository.insert_nonce(
            session, SignInNonce(nonce=nonce, address=address, issued_at=now, expires_at=expires_at)
        )
        message = signin.challenge_message(self.siwe, address, nonce, now, expires_at)
        return schemas.Challenge(message=message, nonce=nonce, expires_at=expires_at)

    async def sign_in(self, session: AsyncSession, message: str, signature: str) -> schemas.SignInResult:
        """EIP-4361: the nonce must be ours, unused, unexpired and issued to the signing address."""
        parsed = signin.parse(message)
        now = self.clock.now()
        record = await repository.get_nonce(session, parsed.nonce)
        if record is None:
            raise Unauthenticated("unknown sign-in challenge; ask for a new one")
        if record.used_at is not None:
            raise Unauthenticated("this sign-in challenge was already used")
        if record.expires_at <= now:
            raise Unauthenticated("the sign-in challenge has expired")
        if record.address != parsed.address:
            raise Unauthenticated("the sign-in challenge was issued to another address")
        signin.verify(parsed, signature, self.siwe, now)
        if not await repository.use_nonce(session, parsed.nonce, now):
            raise Unauthenticated("this sign-in challenge was already used")
        await repository.upsert_member(session, parsed.address, None, now)
        token, expires_at = self.keyring.issue(parsed.address, self.settings.token_ttl_seconds, now)
        return schemas.SignInResult(
            token=token, expires_at=expires_at, address=domain.checksum(parsed.address)
        )
