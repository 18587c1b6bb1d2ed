"""Endpoint secrets at rest: encrypted with Fernet under `TIMELOCK_WEBHOOK_SECRET_KEYS`.

A secret must be recoverable to sign each delivery, so it is encrypted rather than hashed. The setting
is a comma-separated list of keys, newest first: the first encrypts, all decrypt, so a key is rotated
by putting a new one in front and dropping the old one once nothing needs it. A key is a Fernet key
(`Fernet.generate_key()`); any other string is stretched into one with SHA-256 (fine for the dev default,
weak for a guessable passphrase: use a generated key in production).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SECRET_PREFIX = "whsec_"


def _key(text: str) -> Fernet:
    try:
        if len(base64.urlsafe_b64decode(text.encode())) == 32:
            return Fernet(text.encode())
    except (binascii.Error, ValueError):
        pass
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()))


class SecretBox:
    def __init__(self, keys: str) -> None:
        parsed = [k.strip() for k in keys.split(",") if k.strip()]
        if not parsed:
            raise ValueError("TIMELOCK_WEBHOOK_SECRET_KEYS is empty")
        self._fernet = MultiFernet([_key(k) for k in parsed])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("the secret was encrypted with a key no longer configured") from exc


def new_secret() -> str:
    """A signing secret: `whsec_` and 32 random bytes, URL-safe base64."""
    return SECRET_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
