"""Sign-In With Ethereum: a single-use, expiring nonce bound to an address, EIP-191 signatures,
and a bearer token from the key ring."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct

from kit import TokenKeyRing


def sign(message: str, key: bytes) -> str:
    return "0x" + Account.sign_message(encode_defunct(text=message), key).signature.hex().removeprefix("0x")


async def challenge(env, address: str) -> dict:
    async with env.as_actor(None) as c:
        r = await c.post("/v1/auth/challenge", json={"address": address})
    assert r.status_code == 200, r.text
    return r.json()


async def sign_in(env, message: str, signature: str):
    async with env.as_actor(None) as c:
        return await c.post("/v1/auth/sign-in", json={"message": message, "signature": signature})


async def test_a_signed_challenge_gives_a_token_for_the_address(env):
    account = Account.create()
    ch = await challenge(env, account.address.lower())
    assert f"Nonce: {ch['nonce']}" in ch["message"]
    assert ch["message"].startswith("bicameral.test wants you to sign in with your Ethereum account:")
    assert account.address in ch["message"]
    r = await sign_in(env, ch["message"], sign(ch["message"], account.key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["address"] == account.address
    assert TokenKeyRing.parse(env.settings.auth_token_keys).verify(body["token"]) == account.address.lower()
    async with env.as_actor(None) as c:
        known = (await c.get("/v1/members", params={"addresses": account.address})).json()["items"]
    assert known == [{"address": account.address, "displayName": None}]


async def test_a_used_nonce_cannot_sign_in_again(env):
    account = Account.create()
    ch = await challenge(env, account.address)
    signature = sign(ch["message"], account.key)
    assert (await sign_in(env, ch["message"], signature)).status_code == 200
    replay = await sign_in(env, ch["message"], signature)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "UNAUTHENTICATED"
    assert "already used" in replay.json()["error"]["message"]


async def test_an_expired_nonce_is_refused(env):
    account = Account.create()
    ch = await challenge(env, account.address)
    env.clock.advance(env.settings.nonce_ttl_seconds + 1)
    r = await sign_in(env, ch["message"], sign(ch["message"], account.key))
    assert r.status_code == 401
    assert "expired" in r.json()["error"]["message"]


async def test_a_signature_by_another_key_is_refused_and_leaves_the_nonce_usable(env):
    account, forger = Account.create(), Account.create()
    ch = await challenge(env, account.address)
    forged = await sign_in(env, ch["message"], sign(ch["message"], forger.key))
    assert forged.status_code == 401
    assert "signature" in forged.json()["error"]["message"]
    assert (await sign_in(env, ch["message"], sign(ch["message"], account.key))).status_code == 200


async def test_a_nonce_issued_to_one_address_does_not_sign_in_another(env):
    victim, attacker = Account.create(), Account.create()
    ch = await challenge(env, victim.address)
    message = ch["message"].replace(victim.address, attacker.address)
    r = await sign_in(env, message, sign(message, attacker.key))
    assert r.status_code == 401
    assert "another address" in r.json()["error"]["message"]


async def test_a_message_altered_after_signing_is_refused(env):
    account = Account.create()
    ch = await challenge(env, account.address)
    signature = sign(ch["message"], account.key)
    altered = ch["message"].replace("bicameral.test", "evil.test")
    r = await sign_in(env, altered, signature)
    assert r.status_code == 401


async def test_an_unknown_nonce_is_refused(env):
    account = Account.create()
    ch = await challenge(env, account.address)
    message = ch["message"].replace(ch["nonce"], "Zz" + ch["nonce"][2:])
    r = await sign_in(env, message, sign(message, account.key))
    assert r.status_code == 401
    assert "unknown" in r.json()["error"]["message"]


async def test_a_malformed_sign_in_message_is_invalid_input(env):
    r = await sign_in(env, "please let me in", "0x00")
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "message"


async def test_a_challenge_for_a_malformed_address_is_refused(env):
    async with env.as_actor(None) as c:
        r = await c.post("/v1/auth/challenge", json={"address": "0xnot-an-address"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "address"
