"""The operational endpoints and the trusted-identity rule every service shares."""

from __future__ import annotations

import pytest

from kit import TokenKeyRing, Unauthenticated, mint_internal_token
from kit.testing import eventually, running_app
from tests.kit.sample import SampleSettings, create_app


async def test_health_ready_status_and_metrics_answer(isolation):
    app = create_app(isolation.settings(SampleSettings))
    async with running_app(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await eventually(lambda: _ready(client))
        assert ready["problems"] == []
        status = (await client.get("/status")).json()
        assert status["name"] == "sample"
        assert status["status"] == "ok"
        assert status["details"]["outbox"]["backlog"] == 0
        assert status["details"]["consumers"][0]["name"] == "sample-notes"
        metrics = (await client.get("/metrics")).text
        assert "outbox_backlog" in metrics
        assert "http_request_duration_seconds" in metrics


async def _ready(client):
    r = await client.get("/readyz")
    return r.json() if r.status_code == 200 else None


async def test_readyz_reports_not_ready_while_the_database_is_unreachable(isolation, tmp_path):
    from stack.infra import EmbeddedPostgres

    pg = EmbeddedPostgres(tmp_path / "pg")
    pg.start()
    try:
        app = create_app(isolation.settings(SampleSettings, database_url=pg.url))
        async with running_app(app) as client:
            await eventually(lambda: _ready(client))
            pg.stop()
            r = await client.get("/readyz")
            assert r.status_code == 503
            assert any("database" in p for p in r.json()["problems"])
            status = (await client.get("/status")).json()
            assert status["status"] == "degraded"
            # a write while the database is down is refused cleanly, not a 500
            async with client.as_actor("0xabc") as c:
                w = await c.post("/v1/notes/x")
            assert w.status_code == 503
            assert w.json()["error"]["code"] == "UNAVAILABLE"
            pg.start()
            await eventually(lambda: _ready(client), within=20)
    finally:
        pg.stop()


async def test_routes_refuse_calls_without_the_gateways_identity(isolation):
    settings = isolation.settings(SampleSettings)
    app = create_app(settings)
    async with running_app(app) as client:
        r = await client.post("/v1/notes/n")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "UNAUTHENTICATED"
        forged = mint_internal_token("not-the-secret-0123456789abcdef0123456789", "0xabc")
        r = await client.post("/v1/notes/n", headers={"X-Bicameral-Internal": forged})
        assert r.status_code == 401
        assert "Traceback" not in r.text


def test_member_tokens_verify_across_key_rotation_and_refuse_tampering():
    old = TokenKeyRing.parse("k1:first-secret-0123456789abcdef0123456789")
    token, _ = old.issue("0xAbC", 60)
    rotated = TokenKeyRing.parse(
        "k2:second-secret-0123456789abcdef0123456789,k1:first-secret-0123456789abcdef0123456789"
    )
    assert rotated.verify(token) == "0xabc"
    new_token, _ = rotated.issue("0xdef", 60)
    with pytest.raises(Unauthenticated):
        old.verify(new_token)
    head, body, sig = token.split(".")
    tampered = f"{head}.{body}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    with pytest.raises(Unauthenticated):
        rotated.verify(tampered)


def test_expired_member_tokens_are_refused():
    from datetime import UTC, datetime, timedelta

    ring = TokenKeyRing.parse("k1:s-0123456789abcdef0123456789abcdef")
    token, _ = ring.issue("0xabc", 60, now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(Unauthenticated, match="expired"):
        ring.verify(token)


async def test_framework_refusals_and_unstorable_input_keep_the_error_shape(isolation):
    app = create_app(isolation.settings(SampleSettings))
    async with running_app(app) as client:
        missing = await client.get("/v1/nowhere")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "NOT_FOUND"
        wrong_method = await client.delete("/healthz")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"]["code"] == "INVALID_INPUT"
        async with client.as_actor("0xabc\x00") as c:
            nul = await c.post("/v1/notes/n-nul")
        assert nul.status_code == 422
        assert nul.json()["error"]["code"] == "INVALID_INPUT"


async def test_a_pooled_connection_the_server_closed_is_replaced_before_a_request_uses_it(isolation):
    import asyncpg

    settings = isolation.settings(SampleSettings)
    app = create_app(settings)
    async with running_app(app) as client, client.as_actor("0xabc") as c:
        assert (await c.post("/v1/notes/before")).status_code < 300
        # the server ends every session of the service's database (a restart, an operator, a proxy timeout)
        admin = await asyncpg.connect(settings.server_dsn)
        try:
            pids = await admin.fetchval(
                "SELECT array_agg(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                settings.database_name,
            )
            assert pids
            await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", pids)

            async def gone():
                left = await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids
                )
                return left == 0 or None

            await eventually(gone)
        finally:
            await admin.close()
        assert (await c.post("/v1/notes/after")).status_code < 300


def test_a_minted_identity_is_reused_for_the_same_actor_and_verifies_as_that_actor():
    from kit import verify_internal_token

    secret = "a-test-secret-0123456789abcdef0123456789"
    token = mint_internal_token(secret, "0xAbC")
    assert mint_internal_token(secret, "0xabc") == token
    assert mint_internal_token(secret, "0xdef") != token
    assert mint_internal_token(secret, None) != token
    assert verify_internal_token(secret, token).actor == "0xabc"
    assert verify_internal_token(secret, token).actor == "0xabc"  # again, from the cache
    with pytest.raises(Unauthenticated):
        verify_internal_token("another-test-secret-0123456789abcdef0123", token)
