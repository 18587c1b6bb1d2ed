"""Registering, listing and deleting endpoints: who may, what URLs and filters, the secret shown once."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from services.timelock.webhooks.crypto import SecretBox

from ..support import Org
from .conftest import OUTSIDER, TLC_CONTRIBUTOR, TLC_CORE, Hooks

URL = "https://hooks.example.org/bicameral"


async def _public(host: str, port: int) -> list[str]:
    return {"hooks.example.org": ["93.184.215.14"], "internal.example.org": ["10.0.0.7"]}.get(host, [])


@pytest.fixture
def public_dns(hooks: Hooks) -> Hooks:
    """Resolution as on the internet; https only and private addresses refused (the defaults)."""
    hooks.service.resolver = _public
    hooks.service.allow_private_addresses = False
    hooks.service.require_https = True
    return hooks


@pytest.mark.parametrize("member", [1, TLC_CORE[0]], ids=["stakeholder", "tlc-core-team"])
async def test_stakeholders_and_the_tlc_core_team_register_webhooks(
    public_dns: Hooks, org: Org, member: int
) -> None:
    await public_dns.found(org)

    response = await public_dns.register(org, URL, ["proposal.>", "vote.cast"], by=member)

    assert response.status_code == 201, response.text
    webhook = response.json()["webhook"]
    assert (webhook["organization"], webhook["url"], webhook["subjects"]) == (
        org.slug,
        URL,
        ["proposal.>", "vote.cast"],
    )
    assert webhook["deliveries"] == {"PENDING": 0, "SENDING": 0, "DELIVERED": 0, "DEAD": 0}


@pytest.mark.parametrize(
    ("member", "status", "code"),
    [(TLC_CONTRIBUTOR, 403, "FORBIDDEN"), (OUTSIDER, 403, "FORBIDDEN"), (None, 401, "UNAUTHENTICATED")],
    ids=["tlc-contributor", "outsider", "anonymous"],
)
async def test_anyone_else_may_not_register_or_list(
    public_dns: Hooks, org: Org, member, status, code
) -> None:
    await public_dns.found(org)

    registered = await public_dns.register(org, URL, by=member)
    async with public_dns.as_member(member) as client:
        listed = await client.get(f"/v1/organizations/{org.slug}/webhooks")

    assert (registered.status_code, registered.json()["error"]["code"]) == (status, code)
    assert (listed.status_code, listed.json()["error"]["code"]) == (status, code)


async def test_someone_elses_webhook_is_not_found(public_dns: Hooks, org: Org) -> None:
    other = Org()
    await public_dns.found(org)
    await public_dns.found(other)
    webhook = (await public_dns.register(org, URL)).json()["webhook"]

    async with public_dns.as_member(OUTSIDER) as client:
        deleted = await client.delete(f"/v1/webhooks/{webhook['id']}")
        deliveries = await client.get(f"/v1/webhooks/{webhook['id']}/deliveries")

    assert (deleted.status_code, deleted.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert deliveries.status_code == 404
    async with public_dns.as_member(1) as client:
        assert len((await client.get(f"/v1/organizations/{org.slug}/webhooks")).json()["items"]) == 1


async def test_an_unknown_organisation_is_not_found(public_dns: Hooks) -> None:
    response = await public_dns.register(Org(), URL)

    assert (response.status_code, response.json()["error"]["field"]) == (404, "organization")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.org/x", "https"),
        ("ftp://hooks.example.org/x", "https"),
        ("https://user:pw@hooks.example.org/x", "credentials"),
        ("https://internal.example.org/x", "private"),
        ("https://127.0.0.1/x", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),
        ("https://[::1]/x", "private"),
        ("https://[::ffff:10.0.0.1]/x", "private"),
        ("https://nowhere.example.org/x", "resolve"),
        ("not a url", "https"),
    ],
)
async def test_a_url_that_is_not_public_https_is_refused(
    public_dns: Hooks, org: Org, url: str, why: str
) -> None:
    await public_dns.found(org)

    response = await public_dns.register(org, url)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", "url")
    assert why in error["message"]


@pytest.mark.parametrize("subjects", [["proposal"], ["proposal.>.x"], ["Proposal.created"], ["a.b.c"], [""]])
async def test_a_malformed_subject_filter_is_refused(
    public_dns: Hooks, org: Org, subjects: list[str]
) -> None:
    await public_dns.found(org)

    response = await public_dns.register(org, URL, subjects)

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "subjects[0]"


async def test_the_secret_is_shown_once_and_kept_only_encrypted(public_dns: Hooks, org: Org) -> None:
    await public_dns.found(org)

    registered = (await public_dns.register(org, URL)).json()
    async with public_dns.as_member(1) as client:
        listed = (await client.get(f"/v1/organizations/{org.slug}/webhooks")).json()
    async with public_dns.harness.runtime.db.session() as session:
        stored = (
            await session.execute(
                text("SELECT secret_ciphertext FROM webhook_endpoints WHERE id = :id"),
                {"id": registered["webhook"]["id"]},
            )
        ).scalar_one()

    assert registered["secret"].startswith("whsec_")
    assert registered["secret"] not in str(listed)
    assert "secret" not in listed["items"][0]
    assert registered["secret"] not in stored
    assert SecretBox(public_dns.settings.webhook_secret_keys).decrypt(stored) == registered["secret"]


async def test_a_rotated_key_still_decrypts_secrets_encrypted_under_the_old_one() -> None:
    old = SecretBox("old-key")
    ciphertext = old.encrypt("whsec_abc")

    assert SecretBox("new-key,old-key").decrypt(ciphertext) == "whsec_abc"
    with pytest.raises(ValueError, match="no longer configured"):
        SecretBox("new-key").decrypt(ciphertext)
