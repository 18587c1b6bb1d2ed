"""The webhooks' consumer: every event of the stream, fanned out into deliveries.

A durable consumer of its own (`timelock-webhooks`), apart from the timelock's: fanning out never
delays a review, and a review never delays a webhook. It only writes rows and schedules the first
attempt; requests are made by `sender.Dispatcher`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kit import Consumer, Envelope

from .service import Webhooks

CONSUMER_NAME = "timelock-webhooks"
# relative to the events subject prefix: `<org-slug>.<aggregate>.<event>`
SUBJECTS = ("*.>",)


def build_consumer(webhooks: Webhooks) -> Consumer:
    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        await webhooks.on_event(session, envelope)

    return Consumer(name=CONSUMER_NAME, subjects=SUBJECTS, handler=handle)
