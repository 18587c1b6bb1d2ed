"""The CloudEvents 1.0 envelope every event travels in (contract/events.md)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SPEC_VERSION = "1.0"

# the plural used in the CloudEvents `subject` (`proposals/<id>`) for each aggregate
_AGGREGATE_PLURAL = {
    "organization": "organizations",
    "body": "bodies",
    "membership": "bodies",
    "funds": "organizations",
    "proposal": "proposals",
    "vote": "proposals",
    "review": "reviews",
    "operation": "reviews",
    "policy": "organizations",
    "experiment": "experiments",
    "poll": "polls",
    "webhook": "webhooks",
}


@dataclass(slots=True)
class Envelope:
    """One event. `aggregate_id` keys the per-aggregate `sequence` the outbox assigns into `data`."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    organization: str
    aggregate: str
    aggregate_id: str
    event: str
    data: dict[str, Any] = field(default_factory=dict)

    def nats_subject(self, prefix: str) -> str:
        return f"{prefix}.{self.organization}.{self.aggregate}.{self.event}"

    def to_cloudevent(self) -> dict[str, Any]:
        return {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": self.data,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_cloudevent(), separators=(",", ":"), default=str).encode()

    @property
    def sequence(self) -> int | None:
        value = self.data.get("sequence")
        return int(value) if value is not None else None

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        """Parse a published CloudEvent; raises ValueError on anything malformed."""
        try:
            doc = json.loads(raw)
            if doc.get("specversion") != SPEC_VERSION:
                raise ValueError(f"unsupported specversion {doc.get('specversion')!r}")
            type_parts = doc["type"].split(".")
            if len(type_parts) != 4 or type_parts[0] != "governance":
                raise ValueError(f"unexpected event type {doc['type']!r}")
            _, aggregate, event, _version = type_parts
            data = doc.get("data") or {}
            subject = doc["subject"]
            return cls(
                id=str(doc["id"]),
                source=doc["source"],
                type=doc["type"],
                subject=subject,
                time=datetime.fromisoformat(doc["time"].replace("Z", "+00:00")),
                organization=str(data.get("organization", "")),
                aggregate=aggregate,
                aggregate_id=subject.split("/", 1)[-1],
                event=event,
                data=data,
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"malformed event: {exc}") from exc


def new_event(
    *,
    source: str,
    organization: str,
    organization_id: str,
    aggregate: str,
    aggregate_id: str,
    event: str,
    data: dict[str, Any],
    time: datetime | None = None,
    version: int = 1,
    subject_kind: str | None = None,
) -> Envelope:
    """Build an event. `source` is the emitting service, e.g. `/services/proposals`.

    `data` gets `organization` and `organizationId`; the outbox adds `sequence` when it records it.
    """
    plural = subject_kind or _AGGREGATE_PLURAL.get(aggregate, f"{aggregate}s")
    payload = {"organization": organization, "organizationId": str(organization_id), **data}
    return Envelope(
        id=str(uuid.uuid4()),
        source=source,
        type=f"governance.{aggregate}.{event}.v{version}",
        subject=f"{plural}/{aggregate_id}",
        time=time or datetime.now(UTC),
        organization=organization,
        aggregate=aggregate,
        aggregate_id=str(aggregate_id),
        event=event,
        data=payload,
    )
