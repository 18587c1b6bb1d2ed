"""In-memory fakes of the three services' documented HTTP answers (docs/internal-api.md), served
through `httpx.MockTransport`, for fast contract tests of the gateway.

They check the internal identity header like the real services, count every call, and can be told to
refuse a route with an error (`fail(...)`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from eth_utils import to_checksum_address
from siwe import SiweMessage, generate_nonce

from kit import HTTP_STATUS, INTERNAL_HEADER, TokenKeyRing, Unauthenticated, verify_internal_token


@dataclass
class Call:
    service: str
    method: str
    path: str
    params: list[tuple[str, str]]
    actor: str | None
    body: Any = None


Handler = Callable[[httpx.Request, re.Match[str], Any], tuple[int, Any]]


def now() -> datetime:
    return datetime.now(UTC)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@dataclass
class FakeServices:
    secret: str
    key_ring: TokenKeyRing
    calls: list[Call] = field(default_factory=list)
    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    proposals: dict[str, dict[str, Any]] = field(default_factory=dict)
    votes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)
    failures: dict[tuple[str, str, str], tuple[int, Any]] = field(default_factory=dict)

    # --- test set-up ------------------------------------------------------------------------------

    def fail(
        self,
        service: str,
        method: str,
        path_regex: str,
        code: str,
        *,
        status: int | None = None,
        message: str = "refused",
        field: str | None = None,
    ) -> None:
        body = {"error": {"code": code, "message": message, "field": field}}
        self.failures[(service, method, path_regex)] = (status or HTTP_STATUS.get(code, 500), body)

    def add_organization(self, slug: str, *, stakeholders: int = 3, core_team: int = 3) -> dict[str, Any]:
        org_id, shg_id, tlc_id = (str(uuid.uuid4()) for _ in range(3))
        policy = {
            "votingPeriodSeconds": 604800,
            "reviewPeriodSeconds": 604800,
            "concernExtensionSeconds": 259200,
            "vetoThresholdPercent": 33,
            "quorumPercent": 20,
            "stakeholderWeighting": "EQUAL",
            "cycleLengthSeconds": 7776000,
            "communityProposals": False,
            "policyDelaySeconds": 7776000,
        }
        org = {
            "id": org_id,
            "slug": slug,
            "name": slug.title(),
            "purpose": "to test",
            "stakeholderGroupId": shg_id,
            "topLevelCellId": tlc_id,
            "policy": policy,
            "startsAt": iso(now()),
            "createdAt": iso(now()),
        }
        self.organizations[slug] = org
        self.add_body(shg_id, org, "STAKEHOLDER_GROUP", "Stakeholders", None)
        self.add_body(tlc_id, org, "CELL", "Top Level Cell", None, top=True)
        for i in range(stakeholders):
            self.add_member(shg_id, self.address(f"s{slug}{i}"), "STAKEHOLDER", name=f"Stakeholder {i}")
        for i in range(core_team):
            self.add_member(tlc_id, self.address(f"c{slug}{i}"), "CORE_TEAM", name=f"Core {i}")
        return org

    @staticmethod
    def address(seed: str) -> str:
        return to_checksum_address("0x" + uuid.uuid5(uuid.NAMESPACE_URL, seed).hex + "00000000")

    def add_body(
        self,
        body_id: str,
        org: dict[str, Any],
        kind: str,
        name: str,
        parent: str | None,
        *,
        top: bool = False,
    ) -> dict[str, Any]:
        body = {
            "id": body_id,
            "organizationId": org["id"],
            "organizationSlug": org["slug"],
            "kind": kind,
            "name": name,
            "purpose": f"{name} purpose",
            "parentId": parent,
            "isTopLevel": top,
            "childIds": [],
            "cellState": None
            if kind == "STAKEHOLDER_GROUP"
            else {
                "status": "DRAFT",
                "purpose": f"{name} purpose",
                "strategy": "",
                "agreements": [],
                "approvedAt": None,
                "proposalId": None,
            },
        }
        self.bodies[body_id] = body
        self.members.setdefault(body_id, [])
        if parent:
            self.bodies[parent]["childIds"].append(body_id)
        return body

    def add_member(self, body_id: str, address: str, role: str, *, name: str | None = None) -> None:
        self.names[address.lower()] = name or ""
        self.members[body_id].append(
            {
                "bodyId": body_id,
                "address": address,
                "displayName": name,
                "role": role,
                "weight": "1" if role != "CONTRIBUTOR" else "0",
                "joinedAt": iso(now()),
            }
        )

    def add_proposal(
        self,
        org: dict[str, Any],
        body_id: str,
        proposer: str,
        *,
        status: str = "VOTING",
        title: str = "A proposal",
        kind: str = "OPERATIONAL",
    ) -> dict[str, Any]:
        pid = str(uuid.uuid4())
        created = now() + timedelta(microseconds=len(self.proposals))
        proposal = {
            "id": pid,
            "organizationId": org["id"],
            "organizationSlug": org["slug"],
            "kind": kind,
            "status": status,
            "title": title,
            "description": "text",
            "bodyId": body_id,
            "decidingBodyId": body_id,
            "proposer": proposer,
            "createdAt": iso(created),
            "votingEndsAt": iso(created + timedelta(days=7)),
            "enactAfter": None,
            "failureReason": None,
            "moduleKey": "OPERATIONAL:TLC",
            "moduleVersion": 1,
            "actions": [],
            "tally": {"for": "0", "against": "0", "abstain": "0", "eligible": "3", "quorumReached": False},
        }
        self.proposals[pid] = proposal
        self.votes[pid] = []
        self.history[pid] = [{"status": "VOTING", "at": iso(created), "cause": "created"}]
        return proposal

    def add_review(self, proposal_id: str) -> dict[str, Any]:
        review = {
            "id": str(uuid.uuid4()),
            "proposalId": proposal_id,
            "status": "PENDING",
            "startsAt": iso(now()),
            "endsAt": iso(now() + timedelta(days=7)),
            "extended": False,
            "objectionWeight": "0",
            "vetoThresholdWeight": "1",
            "vetoThresholdPercent": 33,
            "eligibleWeight": "3",
            "concerns": [],
            "operation": None,
        }
        self.reviews[proposal_id] = review
        return review

    def count(self, service: str | None = None) -> int:
        return sum(1 for c in self.calls if service is None or c.service == service)

    def transports(self) -> dict[str, httpx.AsyncBaseTransport]:
        return {
            name: httpx.MockTransport(self._handler(name)) for name in ("membership", "proposals", "timelock")
        }

    # --- dispatch ---------------------------------------------------------------------------------

    def _handler(self, service: str) -> Callable[[httpx.Request], httpx.Response]:
        routes = self._routes()[service]

        def handle(request: httpx.Request) -> httpx.Response:
            path = request.url.path
            body = json.loads(request.content) if request.content else None
            if path == "/status":
                return httpx.Response(
                    200,
                    json={
                        "name": service,
                        "status": "ok",
                        "version": "test",
                        "uptimeSeconds": 1.5,
                        "details": {},
                    },
                )
            if path == "/healthz":
                return httpx.Response(200, json={"status": "ok"})
            try:
                caller = verify_internal_token(self.secret, request.headers.get(INTERNAL_HEADER))
            except Unauthenticated:
                return httpx.Response(
                    401, json={"error": {"code": "UNAUTHENTICATED", "message": "no", "field": None}}
                )
            self.calls.append(
                Call(
                    service, request.method, path, list(request.url.params.multi_items()), caller.actor, body
                )
            )
            for (svc, method, regex), (status, answer) in self.failures.items():
                if svc == service and method == request.method and re.fullmatch(regex, path):
                    return httpx.Response(status, json=answer)
            for method, regex, fn in routes:
                match = re.fullmatch(regex, path)
                if method == request.method and match:
                    status, answer = fn(request, match, body)
                    return httpx.Response(status, json=answer)
            return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": path, "field": None}})

        return handle

    def _routes(self) -> dict[str, list[tuple[str, str, Handler]]]:
        return {
            "membership": [
                ("GET", r"/v1/organizations/([^/]+)", self._organization),
                ("GET", r"/v1/organizations", self._organizations),
                ("GET", r"/v1/organizations/([^/]+)/treasury", self._treasury),
                ("GET", r"/v1/bodies", self._bodies),
                ("GET", r"/v1/bodies/([^/]+)/members", self._body_members),
                ("GET", r"/v1/members", self._members),
                ("GET", r"/v1/members/([^/]+)/memberships", self._memberships),
                ("POST", r"/v1/organizations", self._create_organization),
                ("POST", r"/v1/organizations/([^/]+)/commitments", self._commit),
                ("POST", r"/v1/bodies/([^/]+)/leave", self._leave),
                ("POST", r"/v1/auth/challenge", self._challenge),
                ("POST", r"/v1/auth/sign-in", self._sign_in),
            ],
            "proposals": [
                ("GET", r"/v1/organizations/([^/]+)/policy", self._policy),
                ("GET", r"/v1/proposals", self._proposals),
                ("GET", r"/v1/proposals/([^/]+)/votes", self._votes),
                ("GET", r"/v1/proposals/([^/]+)/history", self._history),
                ("POST", r"/v1/proposals", self._create_proposal),
                ("POST", r"/v1/proposals/([^/]+)/votes", self._cast_vote),
                ("POST", r"/v1/proposals/([^/]+)/cancel", self._cancel),
            ],
            "timelock": [
                ("GET", r"/v1/reviews", self._reviews),
                ("POST", r"/v1/reviews/by-proposal/([^/]+)/concerns", self._concern),
                ("POST", r"/v1/reviews/by-proposal/([^/]+)/objections", self._object),
                ("DELETE", r"/v1/reviews/by-proposal/([^/]+)/objections", self._object),
            ],
        }

    @staticmethod
    def _ids(request: httpx.Request, name: str) -> list[str]:
        return [i for v in request.url.params.get_list(name) for i in v.split(",") if i]

    @staticmethod
    def _not_found() -> tuple[int, Any]:
        return 404, {"error": {"code": "NOT_FOUND", "message": "not found", "field": None}}

    @staticmethod
    def _page(items: list[Any], request: httpx.Request) -> tuple[int, Any]:
        first = int(request.url.params.get("first", 20))
        start = int(request.url.params.get("after") or 0)
        chunk = items[start : start + first]
        end = start + len(chunk)
        return 200, {
            "items": chunk,
            "totalCount": len(items),
            "endCursor": str(end) if chunk else None,
            "hasNextPage": end < len(items),
        }

    def _organization(self, request, match, body):
        org = self.organizations.get(match[1])
        return (200, org) if org else self._not_found()

    def _organizations(self, request, match, body):
        ids = set(self._ids(request, "ids"))
        return 200, {"items": [o for o in self.organizations.values() if o["id"] in ids]}

    def _treasury(self, request, match, body):
        if match[1] not in self.organizations:
            return self._not_found()
        return 200, {"currentCycle": 0, "committed": "1000", "allocated": "250", "available": "750"}

    def _bodies(self, request, match, body):
        ids = self._ids(request, "ids")
        return 200, {"items": [self.bodies[i] for i in ids if i in self.bodies]}

    def _body_members(self, request, match, body):
        if match[1] not in self.bodies:
            return self._not_found()
        return self._page(self.members[match[1]], request)

    def _members(self, request, match, body):
        found = [
            {"address": to_checksum_address(a), "displayName": self.names.get(a.lower())}
            for a in self._ids(request, "addresses")
            if a.lower() in self.names
        ]
        return 200, {"items": found}

    def _memberships(self, request, match, body):
        address = match[1].lower()
        return 200, {
            "items": [m for ms in self.members.values() for m in ms if m["address"].lower() == address]
        }

    def _create_organization(self, request, match, body):
        if body["slug"] in self.organizations:
            return 409, {"error": {"code": "CONFLICT", "message": "slug taken", "field": "slug"}}
        org = self.add_organization(body["slug"], stakeholders=0, core_team=0)
        org.update(name=body["name"], purpose=body["purpose"])
        for s in body["stakeholders"]:
            self.add_member(
                org["stakeholderGroupId"],
                to_checksum_address(s["address"]),
                "STAKEHOLDER",
                name=s.get("displayName"),
            )
        return 201, org

    def _commit(self, request, match, body):
        return 201, {"cycle": body["cycle"], "amount": body["amount"], "status": "PLEDGED"}

    def _leave(self, request, match, body):
        return 200, {"withdrawn": "0"}

    def _challenge(self, request, match, body):
        nonce = generate_nonce()
        self.nonces.add(nonce)
        issued = now()
        message = SiweMessage(
            domain="bicameral.test",
            address=to_checksum_address(body["address"]),
            statement="Sign in to Bicameral.",
            uri="https://bicameral.test",
            version="1",
            chain_id=1,
            nonce=nonce,
            issued_at=iso(issued),
            expiration_time=iso(issued + timedelta(minutes=5)),
        ).prepare_message()
        return 200, {"message": message, "nonce": nonce, "expiresAt": iso(issued + timedelta(minutes=5))}

    def _sign_in(self, request, match, body):
        try:
            message = SiweMessage.from_message(body["message"])
            if message.nonce not in self.nonces:
                raise ValueError("unknown or used nonce")
            message.verify(body["signature"], domain="bicameral.test", nonce=message.nonce)
        except Exception as exc:
            return 401, {
                "error": {"code": "UNAUTHENTICATED", "message": f"sign-in refused: {exc!r}", "field": None}
            }
        self.nonces.discard(message.nonce)
        token, expires = self.key_ring.issue(message.address, 3600)
        return 200, {"token": token, "expiresAt": iso(expires), "address": message.address}

    def _policy(self, request, match, body):
        org = next((o for o in self.organizations.values() if o["id"] == match[1]), None)
        if org is None:
            return self._not_found()
        module = {
            "key": "OPERATIONAL:TOP_LEVEL_CELL",
            "version": 1,
            "kind": "OPERATIONAL",
            "raisedIn": ["TOP_LEVEL_CELL"],
            "decidingBody": "RAISING_CELL",
            "proposers": ["OPERATIONAL_MEMBER"],
            "rule": "MAJORITY",
            "quorumPercent": 20,
            "thresholdPercent": 50,
            "votingPeriodSeconds": 604800,
            "review": {
                "reviewingBody": "STAKEHOLDER_GROUP",
                "windowSeconds": 604800,
                "vetoThresholdPercent": 33,
                "concernExtensionSeconds": 259200,
            },
            "delaySeconds": 0,
            "gracePeriodSeconds": 86400,
            "allowedActions": ["createCell"],
            "enabled": True,
        }
        return 200, {"organizationId": org["id"], **org["policy"], "modules": [module], "overrides": {}}

    def _proposals(self, request, match, body):
        ids = self._ids(request, "ids")
        if ids:
            return 200, {"items": [self.proposals[i] for i in ids if i in self.proposals]}
        org_id = request.url.params.get("organizationId")
        statuses = set(request.url.params.get_list("status"))
        items = [
            p
            for p in self.proposals.values()
            if p["organizationId"] == org_id and (not statuses or p["status"] in statuses)
        ]
        items.sort(key=lambda p: p["createdAt"], reverse=True)
        return self._page(items, request)

    def _votes(self, request, match, body):
        return self._page(self.votes.get(match[1], []), request)

    def _history(self, request, match, body):
        return 200, {"items": self.history.get(match[1], [])}

    def _create_proposal(self, request, match, body):
        body_doc = self.bodies.get(body["bodyId"])
        if body_doc is None:
            return 404, {"error": {"code": "NOT_FOUND", "message": "no such body", "field": "bodyId"}}
        org = self.organizations[body_doc["organizationSlug"]]
        actor = verify_internal_token(self.secret, request.headers.get(INTERNAL_HEADER)).actor
        p = self.add_proposal(
            org, body["bodyId"], to_checksum_address(actor), title=body["title"], kind=body["kind"]
        )
        p["actions"] = body["actions"]
        return 201, p

    def _cast_vote(self, request, match, body):
        p = self.proposals.get(match[1])
        if p is None:
            return self._not_found()
        actor = verify_internal_token(self.secret, request.headers.get(INTERNAL_HEADER)).actor
        vote = {
            "voter": to_checksum_address(actor),
            "choice": body["choice"],
            "weight": "1",
            "reason": body.get("reason"),
            "castAt": iso(now()),
        }
        self.votes[p["id"]].append(vote)
        key = body["choice"].lower()
        p["tally"][key] = str(int(p["tally"][key]) + 1)
        return 201, {"vote": vote, "proposal": p}

    def _cancel(self, request, match, body):
        p = self.proposals.get(match[1])
        if p is None:
            return self._not_found()
        p["status"] = "CANCELLED"
        return 200, p

    def _reviews(self, request, match, body):
        ids = self._ids(request, "proposalIds")
        return 200, {"items": [self.reviews[i] for i in ids if i in self.reviews]}

    def _concern(self, request, match, body):
        review = self.reviews.get(match[1])
        if review is None:
            return self._not_found()
        actor = verify_internal_token(self.secret, request.headers.get(INTERNAL_HEADER)).actor
        concern = {
            "id": str(uuid.uuid4()),
            "reason": body["reason"],
            "raisedAt": iso(now()),
            "raisedBy": to_checksum_address(actor),
        }
        review["concerns"].append(concern)
        return 201, {"concern": concern, "review": review}

    def _object(self, request, match, body):
        review = self.reviews.get(match[1])
        if review is None:
            return self._not_found()
        review["objectionWeight"] = "1" if request.method == "POST" else "0"
        return 200, review
