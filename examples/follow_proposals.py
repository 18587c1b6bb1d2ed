"""Follow one organisation's governance events from Bicameral's JetStream stream, each exactly once.

Needs only `nats-py` (pip install nats-py) and the standard library. See docs/events.md.

    python follow_proposals.py --organization reimagining-power \\
        --nats-url nats://partner-dao:secret@nats.example.org:4222 --durable partner-dao

It keeps a durable JetStream consumer (the server remembers what was acknowledged, so after a
disconnect, a restart of this program or of NATS it continues where it left off) and a small SQLite
store (`--store`) holding every event it has taken: an event delivered twice (delivery is at least
once) is recognised by its CloudEvents `id` and skipped. Each new event is written to the store and
then printed as one JSON line on stdout; only then is it acknowledged. Gaps in an aggregate's
`data.sequence` are reported on stderr.

Start from the beginning of the stream (default), from a stream sequence (`--from-sequence`) or from
a time (`--from-time 2030-01-01T00:00:00Z`): these apply when the durable consumer is created; to
replay again, use a new `--durable` name (and `--store`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sqlite3
import sys
from datetime import datetime
from typing import Any

import nats
from nats.errors import ConnectionClosedError, NoServersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

BATCH = 100


def say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class Store:
    """What has been taken: every event by id (the effect and the deduplication in one transaction),
    and the last sequence seen per aggregate instance (to notice gaps)."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS events (
                id TEXT PRIMARY KEY, stream_seq INTEGER, type TEXT, subject TEXT, document TEXT);
            CREATE TABLE IF NOT EXISTS sequences (
                aggregate TEXT, subject TEXT, last INTEGER, PRIMARY KEY (aggregate, subject));
            """
        )

    def take(self, stream_seq: int, event: dict[str, Any]) -> tuple[bool, str | None]:
        """Store a new event; answers (whether it was new, a warning about its sequence if any)."""
        with self.db:  # one transaction
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)",
                (event["id"], stream_seq, event["type"], event["subject"], json.dumps(event)),
            )
            if cursor.rowcount == 0:
                return False, None
            aggregate = event["type"].split(".")[1]
            if aggregate == "operation":  # a review's operation continues the review's sequence
                aggregate = "review"
            sequence = (event.get("data") or {}).get("sequence")
            row = self.db.execute(
                "SELECT last FROM sequences WHERE aggregate = ? AND subject = ?",
                (aggregate, event["subject"]),
            ).fetchone()
            last = row[0] if row else 0
            warning = None
            if isinstance(sequence, int):
                if sequence > last + 1:
                    warning = f"gap: {aggregate} {event['subject']} went from {last} to {sequence}"
                self.db.execute(
                    "INSERT INTO sequences VALUES (?, ?, ?) ON CONFLICT (aggregate, subject) "
                    "DO UPDATE SET last = max(last, excluded.last)",
                    (aggregate, event["subject"], sequence),
                )
            return True, warning

    def close(self) -> None:
        self.db.close()


def summary(stream_seq: int, event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    return json.dumps(
        {
            "streamSequence": stream_seq,
            "id": event["id"],
            "type": event["type"],
            "time": event["time"],
            "subject": event["subject"],
            "sequence": data.get("sequence"),
            "proposalId": data.get("proposalId"),
            "status": data.get("status") or data.get("proposalStatus"),
        }
    )


async def ensure_consumer(js: Any, args: argparse.Namespace) -> None:
    """Create the durable consumer unless it exists (its start position is fixed at creation)."""
    try:
        await js.consumer_info(args.stream, args.durable)
        return
    except NotFoundError:
        pass
    start: dict[str, Any] = {"deliver_policy": DeliverPolicy.ALL}
    if args.from_sequence:
        start = {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": args.from_sequence}
    elif args.from_time:
        when = datetime.fromisoformat(args.from_time.replace("Z", "+00:00"))
        start = {"deliver_policy": DeliverPolicy.BY_START_TIME, "opt_start_time": when}
    await js.add_consumer(
        args.stream,
        ConsumerConfig(
            name=args.durable,
            durable_name=args.durable,
            # one filter subject: the organisation's events (and what a read-only user may be allowed)
            filter_subject=f"{args.prefix}.{args.organization}.>",
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            max_ack_pending=1000,
            **start,
        ),
    )


async def follow(args: argparse.Namespace, stop: asyncio.Event) -> None:
    store = Store(args.store)
    only = set(args.only.split(",")) if args.only else None

    async def on_error(exc: Exception) -> None:
        say(f"nats: {exc!r}")

    options: dict[str, Any] = {
        "servers": args.nats_url.split(","),
        "name": f"follow-{args.durable}",
        "max_reconnect_attempts": -1,  # never give up (the default gives up after about two minutes)
        "reconnect_time_wait": 1,
        "error_cb": on_error,
        "inbox_prefix": args.inbox_prefix or f"_INBOX_{args.durable}",
    }
    if args.creds:
        options["user_credentials"] = args.creds
    while True:
        try:
            nc = await nats.connect(**options)
            break
        except (NoServersError, OSError) as exc:
            say(f"cannot connect yet: {exc!r}")
            if stop.is_set():
                return
            await asyncio.sleep(1)
    js = nc.jetstream(timeout=5)
    sub = None
    try:
        while not stop.is_set():
            try:
                if sub is None:
                    await ensure_consumer(js, args)
                    sub = await js.pull_subscribe_bind(durable=args.durable, stream=args.stream)
                msgs = await sub.fetch(BATCH, timeout=2)
            except (TimeoutError, NatsTimeoutError):
                continue
            except (ConnectionClosedError, OSError, nats.errors.Error, nats.js.errors.Error) as exc:
                # NATS restarting or unreachable: the client reconnects by itself; bind again after
                say(f"waiting for NATS: {exc!r}")
                sub = None
                await asyncio.sleep(1)
                continue
            for msg in msgs:
                event = json.loads(msg.data)
                stream_seq = msg.metadata.sequence.stream
                new, warning = store.take(stream_seq, event)
                if warning:
                    say(warning)
                if new and (only is None or event["type"].split(".")[1] in only):
                    sys.stdout.write(summary(stream_seq, event) + "\n")
                    sys.stdout.flush()
                # acknowledged only once stored: a crash before this redelivers it, and the store skips it
                with contextlib.suppress(Exception):
                    await msg.ack()
    finally:
        # a pending pull would hold up the drain: end the subscription first
        if sub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sub.unsubscribe(), 2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.drain(), 5)
        with contextlib.suppress(Exception):
            await nc.close()
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--organization", required=True, help="the organisation's slug")
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222", help="NATS server(s), comma separated")
    parser.add_argument("--creds", help="a NATS credentials file, if you were given one")
    parser.add_argument("--stream", default="GOVERNANCE")
    parser.add_argument("--prefix", default="governance", help="first token of every subject")
    parser.add_argument("--durable", default="follower", help="your durable consumer's name")
    parser.add_argument("--inbox-prefix", help="reply subjects prefix (default _INBOX_<durable>)")
    parser.add_argument("--store", default="follow_proposals.db", help="SQLite file of the events taken")
    parser.add_argument("--only", help="print only these aggregates, e.g. proposal,vote")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--from-sequence", type=int, help="start at this stream sequence")
    start.add_argument("--from-time", help="start at this time (RFC 3339)")
    args = parser.parse_args(argv)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await follow(args, stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
