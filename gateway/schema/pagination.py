"""Relay-style windows over the services' keyset pages.

The services answer pages with one opaque `endCursor`; a Relay edge needs a cursor of its own. A gateway
cursor is the service cursor a page was read after plus how many items of it to skip, so any edge can
be resumed from, and the last edge of a page is simply the service's end cursor.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry

from gateway.clients import Page
from kit import InvalidInput

T = TypeVar("T")

DEFAULT_FIRST = 20
MAX_FIRST = 100

Fetch = Callable[[int, str | None], Awaitable[Page]]


@dataclass(frozen=True)
class Window:
    items: list[dict[str, Any]]
    cursors: list[str]
    total_count: int
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


def encode_cursor(after: str | None, skip: int) -> str:
    raw = json.dumps({"a": after, "s": skip}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[str | None, int]:
    if not cursor:
        return None, 0
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, skip = doc["a"], int(doc["s"])
        if (after is not None and not isinstance(after, str)) or not 0 <= skip <= MAX_FIRST:
            raise ValueError("out of range")
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("after is not a cursor from this API", field="after") from exc
    return after, skip


def check_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_FIRST
    if not 0 <= first <= MAX_FIRST:
        raise InvalidInput(f"first must be from 0 to {MAX_FIRST}", field="first")
    return first


async def window(fetch: Fetch, first: int | None, after: str | None) -> Window:
    wanted = check_first(first)
    service_after, skip = decode_cursor(after)
    items: list[dict[str, Any]] = []
    cursors: list[str] = []
    total: int | None = None
    while True:
        page = await fetch(max(1, min(MAX_FIRST, skip + wanted - len(items))), service_after)
        if total is None:
            total = page.total_count if page.total_count is not None else 0
        taken_to = skip
        for index in range(skip, len(page.items)):
            if len(items) == wanted:
                break
            items.append(page.items[index])
            cursors.append(encode_cursor(service_after, index + 1))
            taken_to = index + 1
        skip = max(0, skip - len(page.items))
        rest_of_page = taken_to < len(page.items)
        if taken_to == len(page.items) and page.end_cursor and cursors:
            cursors[-1] = encode_cursor(page.end_cursor, 0)
        if len(items) == wanted or not page.has_next_page or not page.end_cursor:
            has_next = rest_of_page or (page.has_next_page and bool(page.end_cursor))
            return Window(items, cursors, total, has_next)
        service_after = page.end_cursor


@strawberry.type(description="Where a page ends and whether there is more.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when another page follows this one.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to read the next page; null on an empty page."
    )


@strawberry.type(description="One item of a page with the cursor to resume after it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque; pass as `after` to continue after this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list that grows (Relay-style: `first`/`after`).")
class Connection(Generic[T]):
    total_count: int = strawberry.field(description="How many items the whole list holds.")
    page_info: PageInfo = strawberry.field(description="Where this page ends.")
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, with their cursors.")

    @strawberry.field(description="The items of this page without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def connection(w: Window, nodes: list[Any]) -> Connection[Any]:
    return Connection(
        total_count=w.total_count,
        page_info=PageInfo(has_next_page=w.has_next_page, end_cursor=w.end_cursor),
        edges=[Edge(cursor=c, node=n) for c, n in zip(w.cursors, nodes, strict=True)],
    )
