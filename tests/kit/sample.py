"""A minimal service on the kit, for testing the kit itself: notes written with an event each, and a
consumer that counts the events it sees into `seen`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from fastapi import APIRouter, Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kit import (
    Caller,
    Consumer,
    Envelope,
    Runtime,
    ServiceSettings,
    SessionDep,
    caller,
    create_service_app,
    new_event,
)

MIGRATIONS = Path(__file__).parent / "sample_migrations"


class SampleSettings(ServiceSettings):
    service_name: ClassVar[str] = "sample"


router = APIRouter()


def note_event(note_id: str, body: str, n: int = 0) -> Envelope:
    return new_event(
        source="/services/sample",
        organization="acme",
        organization_id="00000000-0000-0000-0000-000000000001",
        aggregate="note",
        aggregate_id=note_id,
        event="written",
        data={"noteId": note_id, "body": body, "n": n},
    )


@router.post("/v1/notes/{note_id}")
async def write_note(
    note_id: str, request: Request, session: AsyncSession = SessionDep, who: Caller = Depends(caller)
) -> dict[str, Any]:
    body = who.require_actor()
    runtime: Runtime = request.app.state.runtime
    await session.execute(
        text("INSERT INTO notes (id, body) VALUES (:id, :b) ON CONFLICT (id) DO UPDATE SET body = :b"),
        {"id": note_id, "b": body},
    )
    await runtime.outbox.add(session, note_event(note_id, body))
    return {"id": note_id}


async def count_seen(session: AsyncSession, envelope: Envelope) -> None:
    if envelope.data.get("body") == "poison":
        raise RuntimeError("cannot digest this one")
    await session.execute(
        text("UPDATE notes SET seen = seen + 1 WHERE id = :id"), {"id": envelope.data["noteId"]}
    )


def create_app(settings: SampleSettings, **kwargs: Any) -> Any:
    return create_service_app(
        settings,
        name="sample",
        version="0.0.1",
        migrations=MIGRATIONS,
        routers=[router],
        consumers=lambda _rt: [Consumer("sample-notes", ["*.note.>"], count_seen)],
        **kwargs,
    )
