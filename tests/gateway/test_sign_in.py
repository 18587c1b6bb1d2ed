"""Sign-In With Ethereum through the gateway, with real eth-account signatures."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct

from tests.gateway.conftest import Gateway
from tests.gateway.fakes import FakeServices


async def test_sign_in_with_a_real_signature_yields_a_token_that_identifies_the_member(
    gateway: Gateway, fake: FakeServices, account: Any
) -> None:
    token = await gateway.sign_in(account)

    me = await gateway.op("Me", token=token)

    assert me["data"]["me"]["address"] == account.address


async def test_the_challenge_is_an_eip4361_message_for_the_address(gateway: Gateway, account: Any) -> None:
    result = await gateway.op("SignInChallenge", {"address": account.address.lower()})
    message = result["data"]["signInChallenge"]
    assert "wants you to sign in with your Ethereum account:" in message
    assert account.address in message


async def test_a_signature_by_another_key_is_refused(gateway: Gateway, account: Any) -> None:
    challenge = await gateway.op("SignInChallenge", {"address": account.address})
    message = challenge["data"]["signInChallenge"]
    forged = Account.create().sign_message(encode_defunct(text=message)).signature.to_0x_hex()

    result = await gateway.op("SignIn", {"message": message, "signature": forged})

    payload = result["data"]["signIn"]
    assert payload["token"] is None
    assert payload["userErrors"][0]["code"] == "UNAUTHENTICATED"


async def test_a_challenge_for_a_malformed_address_is_an_invalid_input_error(
    gateway: Gateway, fake: FakeServices
) -> None:
    result = await gateway.op("SignInChallenge", {"address": "0x123"})
    assert result["data"] is None
    assert result["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "address"}
    assert fake.calls == []


async def test_the_signed_in_member_is_the_actor_of_later_calls(
    gateway: Gateway, fake: FakeServices, account: Any
) -> None:
    token = await gateway.sign_in(account)
    await gateway.op("CommitFunds", {"organization": "rp-any", "cycle": 0, "amount": "5"}, token=token)
    assert fake.calls[-1].actor == account.address.lower()
