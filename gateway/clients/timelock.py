"""The timelock service: optimistic reviews, concerns, objections, delays; and webhooks."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.clients.base import Page, ServiceClient, segment
from gateway.clients.models import Concern, Review, Webhook


class TimelockClient(ServiceClient):
    service = "timelock"

    async def reviews(self, proposal_ids: Sequence[str]) -> list[Review]:
        doc = await self.get("/v1/reviews", params={"proposalIds": ",".join(proposal_ids)})
        return [Review.model_validate(item) for item in doc["items"]]

    async def raise_concern(self, proposal_id: str, reason: str) -> tuple[Concern, Review]:
        doc = await self.post(f"/v1/reviews/by-proposal/{segment(proposal_id)}/concerns", {"reason": reason})
        return Concern.model_validate(doc["concern"]), Review.model_validate(doc["review"])

    async def object(self, proposal_id: str, reason: str | None) -> Review:
        doc = await self.post(
            f"/v1/reviews/by-proposal/{segment(proposal_id)}/objections", {"reason": reason}
        )
        return Review.model_validate(doc)

    async def withdraw_objection(self, proposal_id: str) -> Review:
        return Review.model_validate(
            await self.delete(f"/v1/reviews/by-proposal/{segment(proposal_id)}/objections")
        )

    # --- webhooks -------------------------------------------------------------------------------------

    async def register_webhook(self, slug: str, url: str, subjects: list[str] | None) -> tuple[Webhook, str]:
        """The new endpoint and its signing secret (the only time anyone sees it)."""
        doc = await self.post(
            f"/v1/organizations/{segment(slug)}/webhooks", {"url": url, "subjects": subjects}
        )
        return Webhook.model_validate(doc["webhook"]), str(doc["secret"])

    async def webhooks(self, slug: str) -> list[Webhook]:
        doc = await self.get(f"/v1/organizations/{segment(slug)}/webhooks")
        return [Webhook.model_validate(item) for item in doc["items"]]

    async def delete_webhook(self, webhook_id: str) -> None:
        await self.delete(f"/v1/webhooks/{segment(webhook_id)}")

    async def webhook_deliveries(
        self, webhook_id: str, *, first: int, after: str | None, statuses: Sequence[str] = ()
    ) -> Page:
        params: dict[str, str | int] = {"first": first}
        if after:
            params["after"] = after
        if statuses:
            params["status"] = ",".join(statuses)
        return Page.parse(await self.get(f"/v1/webhooks/{segment(webhook_id)}/deliveries", params))
