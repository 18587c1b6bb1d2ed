"""What every service client shares: identity header, error mapping, retries for reads.

A client is cheap: one is made per GraphQL request around the process-wide pooled `httpx.AsyncClient`
of its service, bound to the acting member of that request. Errors come back as `kit.errors` types:

    DomainError                     the service refused (its `{"error": {...}}` body, code kept)
    └── Unavailable (UNAVAILABLE)   the service could not be reached, timed out or failed (5xx)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel

from kit import (
    HTTP_STATUS,
    INTERNAL_HEADER,
    REQUEST_ID_HEADER,
    DomainError,
    InvalidInput,
    Unavailable,
    error_from_code,
    mint_internal_token,
)

log = logging.getLogger("gateway.clients")

# Answers worth another try for an idempotent read: the service or a proxy in front of it had a moment.
_RETRY_STATUSES = frozenset({502, 503, 504})
_BACKOFF_SECONDS = (0.05, 0.2, 0.5)
# how long an organisation membership knows may still be unknown to the other services (their
# projection of it arrives by event): the services wait as long for membership's data on writes
PROJECTION_WAIT_SECONDS = 2.0

_CODE_BY_STATUS = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT"}


class Page(BaseModel):
    """One page of a keyset-paginated list, as every service answers it."""

    items: list[dict[str, Any]]
    total_count: int | None = None
    end_cursor: str | None = None
    has_next_page: bool = False

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> Page:
        return cls(
            items=list(doc.get("items") or []),
            total_count=doc.get("totalCount"),
            end_cursor=doc.get("endCursor"),
            has_next_page=bool(doc.get("hasNextPage", False)),
        )


def segment(value: str) -> str:
    """A path segment: quoted so that `a/b` cannot change the route, and never a dot segment."""
    if value in ("", ".", ".."):
        raise InvalidInput("not a valid identifier")
    return quote(value, safe="")


def error_from_response(service: str, response: httpx.Response) -> DomainError:
    """The service's own refusal, with its stable code, or UNAVAILABLE when it failed."""
    try:
        body = response.json()["error"]
        code = str(body["code"])
        message = str(body.get("message") or code)
        field = body.get("field")
    except (ValueError, KeyError, TypeError):
        code, message, field = "", "", None
    if code in HTTP_STATUS:
        return error_from_code(code, message, field)
    if response.status_code >= 500:
        # an internal failure's text stays inside the platform
        return Unavailable(f"the {service} service failed ({response.status_code})")
    # a code this gateway does not know yet still reaches the client under the nearest known one
    code = _CODE_BY_STATUS.get(response.status_code, "INVALID_INPUT")
    return error_from_code(code, message or f"the {service} service refused the request", field)


class ServiceClient:
    """HTTP to one service, on behalf of one actor (lower-case address) or nobody."""

    service: ClassVar[str] = "service"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        secret: str,
        actor: str | None,
        retries: int = 2,
        request_id: str | None = None,
    ) -> None:
        self._http = http
        self._secret = secret
        self._actor = actor
        self._retries = retries
        self._request_id = request_id

    def _headers(self) -> dict[str, str]:
        # asked for per call: the kit reuses a token for a few seconds only, so a long request never
        # carries an expired one
        headers = {INTERNAL_HEADER: mint_internal_token(self._secret, self._actor)}
        if self._request_id:
            headers[REQUEST_ID_HEADER] = self._request_id
        return headers

    def _read_request(self, path: str, params: Any) -> httpx.Request:
        # built here rather than by `AsyncClient.request`, whose URL merging and parsing cost three times
        # what this does, on every read a query makes (bench/README.md, "Findings (read path)")
        url = str(self._http.base_url).rstrip("/") + path
        if params:
            url += "?" + urlencode(params, quote_via=quote)
        return httpx.Request(
            "GET", url, headers=self._headers(), extensions={"timeout": self._http.timeout.as_dict()}
        )

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            if method == "GET":
                return await self._http.send(self._read_request(path, kwargs.get("params")))
            return await self._http.request(method, path, headers=self._headers(), **kwargs)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"the {self.service} service did not answer in time") from exc
        except httpx.TransportError as exc:
            raise Unavailable(f"the {self.service} service is unreachable") from exc

    async def get(self, path: str, params: Any = None) -> Any:
        """An idempotent read: retried with a short backoff when the service is briefly unavailable."""
        attempt = 0
        while True:
            try:
                response = await self._send("GET", path, params=params)
            except Unavailable:
                if attempt >= self._retries:
                    raise
            else:
                if response.status_code not in _RETRY_STATUSES or attempt >= self._retries:
                    return self._result(response)
            await asyncio.sleep(_BACKOFF_SECONDS[min(attempt, len(_BACKOFF_SECONDS) - 1)])
            attempt += 1

    async def post(self, path: str, json: Any = None) -> Any:
        """A write: never retried here, since the first attempt may have taken effect."""
        return self._result(await self._send("POST", path, json=json if json is not None else {}))

    async def delete(self, path: str) -> Any:
        return self._result(await self._send("DELETE", path))

    async def get_projected(self, path: str, params: Any = None) -> Any | None:
        """A read about an organisation membership already knows: this service learns of it from
        membership's events a moment later, so NOT_FOUND right after its creation means "not yet" and
        is asked again for a while before it counts as None."""
        deadline = time.monotonic() + PROJECTION_WAIT_SECONDS
        while True:
            doc = await self.get_optional(path, params)
            if doc is not None or time.monotonic() >= deadline:
                return doc
            await asyncio.sleep(0.05)

    async def get_optional(self, path: str, params: Any = None) -> Any | None:
        """A read where NOT_FOUND is an answer (None), not an error."""
        try:
            return await self.get(path, params)
        except DomainError as exc:
            if exc.code == "NOT_FOUND":
                return None
            raise

    def _result(self, response: httpx.Response) -> Any:
        if response.is_success:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise Unavailable(f"the {self.service} service answered something unreadable") from exc
        error = error_from_response(self.service, response)
        if isinstance(error, Unavailable):
            log.warning(
                "service call failed",
                extra={
                    "service": self.service,
                    "status": response.status_code,
                    "path": response.request.url.path,
                },
            )
        raise error
