"""The authorization matrix: every route of the application x every role x an object inside the
role's scope, one outside it, and one that does not exist.

Built from the app's own route table, so a route added without a row in `ROUTES` fails
`test_every_route_has_a_case`. For each route the table declares which roles may act on an object
in their scope; for every other role the answer is 403, the same whatever the object. For every
role a foreign object and a missing one get the same status and the same body (ids aside): a
caller cannot learn which ids exist outside its scope.

The objects are rows inserted directly (no workflows): an update on an object whose workflow is
not running answers 409, which counts as "passed authorization" like any 2xx or domain 4xx.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from db.pool import Pool
from domain.exchange import code_hash
from tests.api_fixtures import ApiCity, build_api_city

MISSING = 8_000_000_000_000  # an id no row has (inside bigint)

ROLES: dict[str, str | None] = {   # role → the ApiCity actor playing it (scope: side A)
    "org_department": "org_d1",
    "subdistrict": "sub_s1",
    "community_staff": "staff_a",
    "unit_admin": "unit_a",
    "member": "member_a1",
    "provider": "provider_a",   # a merchant of the points exchange: refused everywhere else (api/deps.py)
    "anonymous": None,
}
ORG, SUB, STAFF, UNIT, MEMBER = "org_department", "subdistrict", "community_staff", "unit_admin", "member"
PROVIDER = "provider"
STAFF_ROLES = frozenset({ORG, SUB, STAFF})
ALL = frozenset({ORG, SUB, STAFF, UNIT, MEMBER})
NOBODY: frozenset[str] = frozenset()
PUBLIC = "public"


@dataclass
class World:
    city: ApiCity
    ids: dict[str, dict[str, int]] = field(default_factory=dict)   # side → kind → id
    notifications: dict[str, dict[str, int]] = field(default_factory=dict)   # side → role → id
    certificate: tuple[str, str] = ("", "")
    revocable_tokens: list[int] = field(default_factory=list)


Objects = dict[str, Any]   # what a request template fills in: kind → id (or value)
Build = Callable[[Objects], dict[str, Any]]   # → httpx request keyword arguments


@dataclass(frozen=True)
class Case:
    """One route: the URL template ({kind} filled from the side's objects), its body, and which
    roles pass authorization on an object of their own scope. `scoped`: the route names an object
    whose scope differs between sides (else the inside object is the only one)."""

    url: str
    allowed: frozenset[str] | str
    body: Build | None = None
    scoped: bool = True
    foreign: int = 404   # what an allowed role gets for a foreign (or missing) object
    foreign_for: tuple[tuple[str, int], ...] = ()   # per-role exceptions to `foreign`
    refused: int = 403   # what a role not allowed on the route gets, the same for every id
    refused_for: tuple[tuple[str, int], ...] = ()   # per-role exceptions to `refused`


def _soon(days: int = 1) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def _j(make: Callable[[Objects], Any]) -> Build:
    return lambda o: {"json": make(o)}


def _record(o: Objects) -> dict[str, Any]:
    return {"service_date": (datetime.now(UTC) - timedelta(days=2)).date().isoformat(),
            "start_time": "09:00:00", "end_time": "10:00:00", "category": "助老助残",
            "community_id": o["community"], "member_id": o["member"]}


ROUTES: dict[tuple[str, str], Case] = {
    # health and metrics: public
    ("GET", "/healthz"): Case("/healthz", PUBLIC, scoped=False),
    ("GET", "/readyz"): Case("/readyz", PUBLIC, scoped=False),
    ("GET", "/metrics"): Case("/metrics", PUBLIC, scoped=False),
    # directory: lists filter by scope; items outside read as missing
    ("GET", "/districts"): Case("/districts", ALL, scoped=False),
    ("GET", "/subdistricts"): Case("/subdistricts", ALL, scoped=False),
    ("GET", "/communities"): Case("/communities", ALL, scoped=False),
    ("GET", "/grids"): Case("/grids", ALL, scoped=False),
    ("GET", "/units"): Case("/units", ALL, scoped=False),
    ("GET", "/units/{unit_id}"): Case("/units/{unit}", ALL),
    ("GET", "/members"): Case("/members", ALL, scoped=False),
    ("GET", "/members/{member_id}"): Case("/members/{member}", ALL),
    ("GET", "/audit"): Case("/audit", frozenset({ORG}), scoped=False),
    ("GET", "/inbox"): Case("/inbox", ALL, scoped=False),
    ("POST", "/inbox/{notification_id}/read"): Case("/inbox/{notification}/read", ALL),
    ("GET", "/statistics/registration"): Case("/statistics/registration", ALL, scoped=False),
    ("GET", "/statistics/rates"): Case("/statistics/rates", STAFF_ROLES, scoped=False),
    # tokens: the city's organization department only (ORG here is a district's: refused)
    ("POST", "/tokens"): Case("/tokens", NOBODY, _j(lambda o: {
        "role": "member", "scope_kind": "member", "scope_id": o["member"], "label": "矩阵"}), scoped=False),
    ("GET", "/tokens"): Case("/tokens", NOBODY, scoped=False),
    ("POST", "/tokens/{token_id}/revoke"): Case("/tokens/{token}/revoke", NOBODY, scoped=False),
    # registrations
    ("GET", "/registrations/members"): Case("/registrations/members", ALL, scoped=False),
    ("POST", "/registrations/members"): Case("/registrations/members", frozenset({ORG, SUB, STAFF, UNIT, MEMBER}),
                                             _j(lambda o: {"member_id": o["member"]})),
    ("GET", "/registrations/units"): Case("/registrations/units", ALL, scoped=False),
    ("POST", "/registrations/units"): Case("/registrations/units", frozenset({ORG, SUB, STAFF, UNIT}),
                                           _j(lambda o: {"unit_id": o["unit"]})),
    ("GET", "/registrations/members/{registration_id}/history"): Case(
        "/registrations/members/{registration}/history", ALL),
    ("POST", "/registrations/members/confirm"): Case(
        "/registrations/members/confirm", STAFF_ROLES, _j(lambda o: {"ids": [o["registration"]]})),
    ("POST", "/registrations/members/reject"): Case(
        "/registrations/members/reject", STAFF_ROLES, _j(lambda o: {"ids": [o["registration"]], "reason": "矩阵"})),
    ("POST", "/registrations/members/transfer"): Case(
        "/registrations/members/transfer", ALL,
        _j(lambda o: {"member_id": o["member"], "to_community_id": o["community"]})),
    ("POST", "/registrations/members/{registration_id}/place"): Case(
        "/registrations/members/{registration}/place", STAFF_ROLES, _j(lambda o: {"grid_id": o["grid"]})),
    ("POST", "/registrations/members/{registration_id}/pause"): Case(
        "/registrations/members/{registration}/pause", ALL, _j(lambda o: {"reason": "矩阵"})),
    ("POST", "/registrations/members/{registration_id}/resume"): Case(
        "/registrations/members/{registration}/resume", ALL, _j(lambda o: {"reason": "矩阵"})),
    ("POST", "/registrations/members/{registration_id}/withdraw"): Case(
        "/registrations/members/{registration}/withdraw", ALL, _j(lambda o: {"reason": "矩阵"})),
    ("POST", "/registrations/members/{registration_id}/renew"): Case(
        "/registrations/members/{registration}/renew", ALL),
    ("POST", "/registrations/units/{registration_id}/confirm"): Case(
        "/registrations/units/{unit_registration}/confirm", STAFF_ROLES, _j(lambda o: {})),
    ("POST", "/registrations/units/{registration_id}/reject"): Case(
        "/registrations/units/{unit_registration}/reject", STAFF_ROLES, _j(lambda o: {"reason": "矩阵"})),
    ("POST", "/registrations/units/{registration_id}/renew"): Case(
        "/registrations/units/{unit_registration}/renew", frozenset({ORG, SUB, STAFF, UNIT})),
    ("POST", "/imports"): Case("/imports", frozenset({ORG, SUB, STAFF, UNIT}), lambda o: {
        "files": {"file": ("空.csv", b"", "text/csv")}}, scoped=False),
    ("GET", "/registrations/members/{registration_id}/certificate"): Case(
        "/registrations/members/{registration}/certificate", frozenset({STAFF, UNIT, MEMBER})),
    ("GET", "/units/{unit_id}/certificates"): Case("/units/{unit}/certificates", frozenset({UNIT})),
    ("GET", "/certificates/{number}"): Case("/certificates/{certificate}", PUBLIC, lambda o: {
        "params": {"code": o["certificate_code"]}}, scoped=False),
    # dispatch
    ("POST", "/needs"): Case("/needs", STAFF_ROLES, _j(lambda o: {
        "category": "助老助残", "grid_id": o["grid"], "description": "矩阵"})),
    ("GET", "/needs"): Case("/needs", STAFF_ROLES, scoped=False),
    ("POST", "/needs/{need_id}/decision"): Case("/needs/{need}/decision", STAFF_ROLES,
                                                _j(lambda o: {"approve": False})),
    ("POST", "/tasks"): Case("/tasks", STAFF_ROLES, _j(lambda o: {
        "title": "矩阵", "grid_id": o["grid"], "category": "助老助残",
        "window_start": _soon(1), "window_end": _soon(2)})),
    ("GET", "/tasks/claimable"): Case("/tasks/claimable", frozenset({ORG, SUB, STAFF, MEMBER}), scoped=False),
    ("GET", "/me/tasks"): Case("/me/tasks", frozenset({MEMBER}), scoped=False),
    ("GET", "/me/tasks/{task_id}"): Case("/me/tasks/{task}", frozenset({MEMBER})),
    ("GET", "/tasks/{task_id}"): Case("/tasks/{task}", frozenset({ORG, SUB, STAFF, MEMBER})),
    ("GET", "/tasks/{task_id}/offers"): Case("/tasks/{task}/offers", frozenset({ORG, SUB, STAFF, MEMBER})),
    ("GET", "/tasks/{task_id}/fit/{member_id}"): Case("/tasks/{task}/fit/{member}",
                                                      frozenset({ORG, SUB, STAFF, MEMBER})),
    ("GET", "/tasks/{task_id}/history"): Case("/tasks/{task}/history", STAFF_ROLES),
    ("POST", "/tasks/{task_id}/answer"): Case("/tasks/{task}/answer", frozenset({ORG, SUB, STAFF, MEMBER}),
                                              _j(lambda o: {"member_id": o["member"], "accept": False,
                                                            "reason": "矩阵"})),
    ("POST", "/tasks/{task_id}/claim"): Case("/tasks/{task}/claim", frozenset({ORG, SUB, STAFF, MEMBER}),
                                             _j(lambda o: {"member_id": o["member"]})),
    ("POST", "/tasks/{task_id}/check-in"): Case("/tasks/{task}/check-in", frozenset({ORG, SUB, STAFF, MEMBER}),
                                                _j(lambda o: {"member_id": o["member"], "token": "x"})),
    ("POST", "/tasks/{task_id}/check-out"): Case("/tasks/{task}/check-out", frozenset({ORG, SUB, STAFF, MEMBER}),
                                                 _j(lambda o: {"member_id": o["member"], "token": "x"})),
    ("POST", "/tasks/{task_id}/rating"): Case("/tasks/{task}/rating", STAFF_ROLES, _j(lambda o: {"score": 5})),
    ("POST", "/tasks/{task_id}/verify"): Case("/tasks/{task}/verify", STAFF_ROLES, _j(lambda o: {})),
    ("POST", "/tasks/{task_id}/verify/reject"): Case("/tasks/{task}/verify/reject", STAFF_ROLES,
                                                     _j(lambda o: {"reason": "矩阵"})),
    ("POST", "/tasks/{task_id}/requeue"): Case("/tasks/{task}/requeue", STAFF_ROLES),
    ("POST", "/tasks/{task_id}/cancel"): Case("/tasks/{task}/cancel", STAFF_ROLES, _j(lambda o: {"reason": "矩阵"})),
    ("GET", "/ledger"): Case("/ledger", frozenset({ORG, SUB, STAFF, MEMBER}), scoped=False),
    ("GET", "/deliveries"): Case("/deliveries", NOBODY, scoped=False),   # the city's department only
    ("POST", "/resident/needs"): Case("/resident/needs", PUBLIC, _j(lambda o: {
        "code": "sbd_need_matrix", "category": "助老助残", "description": "矩阵"}), scoped=False),
    ("POST", "/resident/rating"): Case("/resident/rating", PUBLIC, _j(lambda o: {
        "code": "sbd_rate_matrix", "score": 5}), scoped=False),
    ("POST", "/resident/need-code/open"): Case("/resident/need-code/open", PUBLIC, _j(lambda o: {
        "code": "sbd_need_matrix"}), scoped=False),
    ("POST", "/resident/need-follow"): Case("/resident/need-follow", PUBLIC, _j(lambda o: {
        "code": "sbd_follow_matrix"}), scoped=False),
    ("POST", "/resident/rating-code/open"): Case("/resident/rating-code/open", PUBLIC, _j(lambda o: {
        "code": "sbd_rate_matrix"}), scoped=False),
    ("GET", "/resident/board/{community_id}"): Case("/resident/board/{community}", PUBLIC, scoped=False),
    ("POST", "/grids/{grid_id}/need-code"): Case("/grids/{grid}/need-code", STAFF_ROLES),
    ("POST", "/tasks/{task_id}/rating-code"): Case("/tasks/{task}/rating-code", STAFF_ROLES),
    # evaluations (one run over both sides; its members and units are scoped)
    ("POST", "/evaluations"): Case("/evaluations", frozenset({ORG}), _j(lambda o: {"period": "2020-01"}), scoped=False),
    ("GET", "/evaluations"): Case("/evaluations", ALL, scoped=False),
    ("GET", "/evaluations/{run_id}"): Case("/evaluations/{run}", ALL, scoped=False),
    ("GET", "/evaluations/{run_id}/results"): Case("/evaluations/{run}/results", ALL, lambda o: {
        "params": {"level": "member"}}, scoped=False),
    ("GET", "/evaluations/{run_id}/members/{member_id}/explain"): Case(
        "/evaluations/{run}/members/{member}/explain", ALL),
    ("GET", "/evaluations/{run_id}/export.xlsx"): Case("/evaluations/{run}/export.xlsx", ALL, lambda o: {
        "params": {"level": "member"}}, scoped=False),
    ("GET", "/evaluations/{run_id}/units/{unit_id}/report.xlsx"): Case(
        "/evaluations/{run}/units/{unit}/report.xlsx", frozenset({ORG, SUB, STAFF, UNIT})),
    # campaigns (launched by a district's organization department)
    ("POST", "/campaigns"): Case("/campaigns", frozenset({ORG}), _j(lambda o: {
        "name": "矩阵", "window_start": _soon(1), "window_end": _soon(30), "registration_deadline": _soon(20),
        "scope": {"district_ids": [o["district"]]}}), foreign=403),   # "only within your district"
    ("GET", "/campaigns"): Case("/campaigns", frozenset({ORG, SUB, STAFF, UNIT, MEMBER}), scoped=False),
    ("GET", "/campaigns/{campaign_id}"): Case("/campaigns/{campaign}", ALL),
    ("GET", "/campaigns/{campaign_id}/events"): Case("/campaigns/{campaign}/events", ALL),
    ("GET", "/campaigns/{campaign_id}/progress"): Case("/campaigns/{campaign}/progress", STAFF_ROLES),
    ("POST", "/campaigns/{campaign_id}/launch"): Case("/campaigns/{campaign}/launch", frozenset({ORG})),
    ("POST", "/campaigns/{campaign_id}/pause"): Case("/campaigns/{campaign}/pause", frozenset({ORG}),
                                                     _j(lambda o: {"reason": "矩阵"})),
    ("POST", "/campaigns/{campaign_id}/resume"): Case("/campaigns/{campaign}/resume", frozenset({ORG})),
    ("POST", "/campaigns/{campaign_id}/extend"): Case("/campaigns/{campaign}/extend", frozenset({ORG}),
                                                      _j(lambda o: {"window_end": _soon(40)})),
    ("POST", "/campaigns/{campaign_id}/cancel"): Case("/campaigns/{campaign}/cancel", frozenset({ORG}),
                                                      _j(lambda o: {"reason": "矩阵"})),
    ("POST", "/campaigns/{campaign_id}/close"): Case("/campaigns/{campaign}/close", frozenset({ORG})),
    ("GET", "/campaigns/{campaign_id}/mobilise/preview"): Case("/campaigns/{campaign}/mobilise/preview",
                                                               frozenset({ORG})),
    ("POST", "/campaigns/{campaign_id}/mobilise"): Case("/campaigns/{campaign}/mobilise", frozenset({ORG}),
                                                        _j(lambda o: {})),
    # service records
    ("POST", "/service-records"): Case("/service-records", frozenset({ORG, SUB, STAFF, MEMBER}), _j(_record),
                                       foreign_for=((MEMBER, 403),)),   # "only your own records", any id
    ("GET", "/service-records"): Case("/service-records", ALL, scoped=False),
    ("GET", "/service-records/{record_id}"): Case("/service-records/{record}", ALL),
    ("POST", "/service-records/approve"): Case("/service-records/approve", STAFF_ROLES,
                                               _j(lambda o: {"record_ids": [o["record"]]})),
    ("POST", "/service-records/reject"): Case("/service-records/reject", STAFF_ROLES,
                                              _j(lambda o: {"record_ids": [o["record"]], "reason": "矩阵"})),
    # unit transfers
    ("POST", "/unit-transfers"): Case("/unit-transfers", frozenset({ORG, UNIT, MEMBER}), _j(lambda o: {
        "member_id": o["member"], "to_unit_id": o["other_unit"]})),
    ("GET", "/unit-transfers"): Case("/unit-transfers", ALL, scoped=False),
    ("GET", "/unit-transfers/{transfer_id}"): Case("/unit-transfers/{transfer}", ALL),
    ("POST", "/unit-transfers/{transfer_id}/accept"): Case("/unit-transfers/{transfer}/accept", ALL),
    ("POST", "/unit-transfers/{transfer_id}/refuse"): Case("/unit-transfers/{transfer}/refuse", ALL,
                                                           _j(lambda o: {"reason": "矩阵"})),
    ("POST", "/unit-transfers/{transfer_id}/cancel"): Case("/unit-transfers/{transfer}/cancel", ALL,
                                                           _j(lambda o: {"reason": "矩阵"})),
    # sign-in (public) and accounts
    ("POST", "/auth/login"): Case("/auth/login", PUBLIC, _j(lambda o: {"phone": "13000000000", "password": "x1234567"}),
                                  scoped=False),
    ("POST", "/auth/otp/request"): Case("/auth/otp/request", PUBLIC, _j(lambda o: {"phone": "13000000000"}),
                                        scoped=False),
    ("POST", "/auth/otp/login"): Case("/auth/otp/login", PUBLIC, _j(lambda o: {"phone": "13000000000",
                                                                              "code": "123456"}), scoped=False),
    ("POST", "/auth/password/setup"): Case("/auth/password/setup", PUBLIC, _j(lambda o: {
        "phone": "13000000000", "code": "123456", "new_password": "abc12345"}), scoped=False),
    ("POST", "/auth/logout"): Case("/auth/logout", PUBLIC, scoped=False),   # ends a session if there is one
    ("GET", "/auth/me"): Case("/auth/me", ALL | {PROVIDER}, scoped=False),
    ("GET", "/accounts"): Case("/accounts", frozenset({ORG, SUB, STAFF}), scoped=False),
    ("POST", "/accounts"): Case("/accounts", frozenset({ORG, STAFF}), _j(lambda o: {
        "phone": f"135{o['community'] % 10**8:08d}", "label": "矩阵", "role": "community_staff",
        "scope_kind": "community", "scope_id": o["community"]}), foreign=403),   # "not yours to manage"
    ("POST", "/accounts/{account_id}/disable"): Case("/accounts/{account}/disable", frozenset({ORG, STAFF}),
                                                        refused=404, refused_for=((SUB, 403), (PROVIDER, 403))),   # sees, cannot manage
    ("POST", "/accounts/from-roster"): Case("/accounts/from-roster", frozenset({ORG}),
                                            _j(lambda o: {"kind": "unit_contacts"}), scoped=False),
    # the newer read models
    ("GET", "/need-categories"): Case("/need-categories", STAFF_ROLES | {MEMBER}, scoped=False),
    ("GET", "/statistics/registration/trend"): Case("/statistics/registration/trend", NOBODY, scoped=False),
    ("GET", "/unit-transfers/target-units"): Case("/unit-transfers/target-units", frozenset({ORG, UNIT, MEMBER}), lambda o: {
        "params": {"name": "矩阵"}}, scoped=False),
    ("GET", "/work-queues"): Case("/work-queues", STAFF_ROLES, scoped=False),
    ("GET", "/evaluations/{run_id}/units/{unit_id}/explain"): Case(
        "/evaluations/{run}/units/{unit}/explain", frozenset({ORG, SUB, STAFF, UNIT})),
    ("GET", "/evaluations/{run_id}/communities/{community_id}/explain"): Case(
        "/evaluations/{run}/communities/{community}/explain", frozenset({ORG, SUB, STAFF})),
    # the member's own reads 我的: whose is decided by the token, so nothing to name
    ("GET", "/me/registrations"): Case("/me/registrations", frozenset({MEMBER}), scoped=False),
    ("GET", "/me/points"): Case("/me/points", frozenset({MEMBER}), scoped=False),
    ("GET", "/me/certificate"): Case("/me/certificate", frozenset({MEMBER}), scoped=False),
    # whistles
    ("POST", "/whistles"): Case("/whistles", STAFF_ROLES, _j(lambda o: {
        "community_id": o["community"], "title": "矩阵", "matter": "矩阵", "people_needed": 1})),
    ("GET", "/whistles"): Case("/whistles", frozenset({ORG, SUB, STAFF, UNIT}), scoped=False),
    ("GET", "/whistles/{whistle_id}"): Case("/whistles/{whistle}", frozenset({ORG, SUB, STAFF, UNIT})),
    ("POST", "/whistles/{whistle_id}/answer"): Case("/whistles/{whistle}/answer", frozenset({ORG, SUB, STAFF, UNIT}),
                                                   _j(lambda o: {"unit_id": o["unit"], "accept": False,
                                                                 "decline_reason": "矩阵"})),
    ("POST", "/whistles/{whistle_id}/arrivals"): Case("/whistles/{whistle}/arrivals", STAFF_ROLES,
                                                     _j(lambda o: {"unit_id": o["unit"]})),
    ("POST", "/whistles/{whistle_id}/close"): Case("/whistles/{whistle}/close", STAFF_ROLES,
                                                  _j(lambda o: {"summary": "矩阵"})),
    # the points exchange (side A's merchant, item and redemptions; a unit admin is a provider too,
    # so another provider's item reads to it as missing)
    ("POST", "/exchange/providers"): Case("/exchange/providers", frozenset({ORG, STAFF}), _j(lambda o: {
        "name": "矩阵商户", "community_id": o["community"], "contact_name": "矩阵",
        "phone": f"134{o['community'] % 10**8:08d}"})),
    ("GET", "/exchange/providers"): Case("/exchange/providers", STAFF_ROLES, scoped=False),
    ("GET", "/exchange/items"): Case("/exchange/items", ALL | {PROVIDER}, scoped=False),
    ("POST", "/exchange/items"): Case("/exchange/items", frozenset({UNIT, PROVIDER}), _j(lambda o: {
        "name": "矩阵", "points": 1, "stock": 1, "valid_from": _soon(-1), "valid_until": _soon(9),
        "collect_at": "矩阵", "community_id": o["community"], "resource_item_id": o["resource"]}), scoped=False),
    ("GET", "/exchange/items/{item_id}"): Case("/exchange/items/{item}", frozenset({ORG, SUB, STAFF, MEMBER, PROVIDER}),
                                               refused_for=((UNIT, 404),)),
    ("POST", "/exchange/items/{item_id}/stock"): Case("/exchange/items/{item}/stock", frozenset({PROVIDER}),
                                                      _j(lambda o: {"stock": 5}), refused_for=((UNIT, 404),)),
    ("POST", "/exchange/items/{item_id}/validity"): Case("/exchange/items/{item}/validity", frozenset({PROVIDER}),
                                                         _j(lambda o: {"valid_from": _soon(-1), "valid_until": _soon(20),
                                                                       "collect_hours": 48}),
                                                         refused_for=((UNIT, 404),)),
    ("GET", "/exchange/resources"): Case("/exchange/resources", frozenset({UNIT}), scoped=False),
    ("POST", "/exchange/items/{item_id}/withdraw"): Case("/exchange/items/{item}/withdraw", frozenset({PROVIDER}),
                                                         refused_for=((UNIT, 404),)),
    ("POST", "/exchange/items/{item_id}/redeem"): Case("/exchange/items/{item}/redeem", frozenset({MEMBER}),
                                                       _j(lambda o: {"request_id": "matrix-request"})),
    ("GET", "/exchange/redemptions"): Case("/exchange/redemptions", ALL | {PROVIDER}, scoped=False),
    ("POST", "/exchange/redemptions/{redemption_id}/code"): Case("/exchange/redemptions/{redemption}/code",
                                                                 frozenset({MEMBER})),
    ("POST", "/exchange/confirm"): Case("/exchange/confirm", frozenset({PROVIDER}), _j(lambda o: {
        "code": o["exchange_code"]}), scoped=False, refused_for=((UNIT, 404),)),
    ("GET", "/exchange/balance"): Case("/exchange/balance", frozenset({MEMBER}), scoped=False),
}


def _app_routes() -> set[tuple[str, str]]:
    spec = create_app(pool=None, temporal_client=None).openapi()  # type: ignore[arg-type]
    return {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}


def test_every_route_has_a_case() -> None:
    """The matrix covers the app's route table exactly: a new route without a case fails here."""
    routes = _app_routes()
    assert routes - set(ROUTES) == set(), "routes without an authorization case"
    assert set(ROUTES) - routes == set(), "cases for routes that no longer exist"


# ---------------------------------------------------------------- the world


def _exchange_code(side: str, n: int) -> str:
    """The one-time code of a side's n-th redemption (8 digits, distinct per side and n)."""
    return str(70_000_000 + ord(side) * 100 + n)


async def _build_world(pool: Pool) -> World:
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        world = World(city)
        now = datetime.now(UTC)
        extra_unit = {}
        for side in ("A", "B"):
            extra_unit[side] = await conn.fetchval(
                "INSERT INTO reporting_unit (name, unit_party_org, community_id, contact_name, contact_phone)"
                " VALUES ($1, '矩阵党支部', $2, '联系人', '13900002222') RETURNING id",
                f"矩阵单位{side}{city.unit[side]}", city.community[side])
        for side, member_key in (("A", "a1"), ("B", "b1")):
            member = city.members[member_key]
            community, grid = city.community[side], city.grids[side][0]
            need = await conn.fetchval(
                "INSERT INTO need (category, community_id, grid_id, urgency, deadline_at, description, created_by)"
                " VALUES ('助老助残', $1, $2, 'blue', $3, '矩阵', 'matrix') RETURNING id", community, grid,
                now + timedelta(days=3))
            task = await conn.fetchval(
                "INSERT INTO task (community_id, grid_id, title, category, mode, headcount, window_start,"
                " window_end, qr_token_hash, created_by) VALUES ($1, $2, '矩阵任务', '助老助残', 'dispatch', 1,"
                " $3, $4, 'x', 'matrix') RETURNING id", community, grid, now + timedelta(days=1),
                now + timedelta(days=1, hours=2))
            await conn.execute(
                "INSERT INTO offer (task_id, member_id, wave, level, score_parts, offered_at, expires_at)"
                " VALUES ($1, $2, 1, 'grid', $5, $3, $4)", task, member.id, now, now + timedelta(hours=2),
                {"proximity": 1, "skills": 0, "fairness": 0, "quality": 0, "unit_spread": 0, "total": 1})
            campaign = await conn.fetchval(   # launched: its communities resolved, its workflow not running
                "INSERT INTO campaign (name, kind, launched_by_kind, launched_by_id, scope_district_ids,"
                " window_start, window_end, created_by, status) VALUES ('矩阵活动', '在职党员进社区', 'district',"
                " $1, ARRAY[$1]::bigint[], $2, $3, 'matrix', 'running') RETURNING id", city.district[side], now,
                now + timedelta(days=30))
            await conn.execute("INSERT INTO campaign_community (campaign_id, community_id) VALUES ($1, $2)",
                               campaign, community)
            record = await conn.fetchval(
                "INSERT INTO service_record (member_id, community_id, category, started_at, ended_at, hours,"
                " created_by, created_at) VALUES ($1, $2, '助老助残', $3, $4, 1, 'matrix', $5) RETURNING id",
                member.id, community, now - timedelta(days=3), now - timedelta(days=3) + timedelta(hours=1), now)
            transfer = await conn.fetchval(
                "INSERT INTO unit_transfer (member_id, from_unit_id, to_unit_id, status, requested_by,"
                " requested_at, expires_at) VALUES ($1, $2, $3, 'pending', 'matrix', $4, $5) RETURNING id",
                member.id, member.unit_id, extra_unit[side], now, now + timedelta(days=14))
            whistle = await conn.fetchval(
                "INSERT INTO whistle (community_id, title, matter, urgency, people_needed, respond_by,"
                " created_by, created_at, updated_at) VALUES ($1, '矩阵', '矩阵', 'blue', 1, $2, 'matrix', $3, $3)"
                " RETURNING id", community, now + timedelta(days=1), now)
            await conn.execute(
                "INSERT INTO whistle_summon (whistle_id, unit_id, level, basis, summoned_at)"
                " VALUES ($1, $2, 'community', 'located', $3)", whistle, city.unit[side], now)
            account = await conn.fetchval(
                "INSERT INTO account (phone, label, role, scope_kind, scope_id, source, created_by)"
                " VALUES ($1, '矩阵社区账号', 'community_staff', 'community', $2, 'admin', 'matrix') RETURNING id",
                f"136{community % 10**8:08d}", community)
            item = await conn.fetchval(
                "INSERT INTO exchange_item (provider_id, name, points, stock, valid_from, valid_until, collect_at,"
                " collect_hours, community_id, created_by, created_at, updated_at) VALUES ($1, '矩阵物品', 1, 5,"
                " $2, $3, '矩阵', 24, $4, 'matrix', $2, $2) RETURNING id", city.provider[side],
                now - timedelta(days=1), now + timedelta(days=9), community)
            redemption, to_confirm = [await conn.fetchval(
                "INSERT INTO exchange_redemption (item_id, member_id, request_id, points, code_hash, created_at,"
                " expires_at) VALUES ($1, $2, $3, 1, $4, $5, $6) RETURNING id", item, member.id,
                f"matrix-{side}-{n}", code_hash(_exchange_code(side, n)), now,
                now + timedelta(days=1)) for n in range(2)]
            await conn.execute("INSERT INTO co_building_agreement (unit_id, community_id, valid_from, valid_until)"
                               " VALUES ($1, $2, $3, $4)", city.unit[side], community, now - timedelta(days=1),
                               now + timedelta(days=300))
            resource = await conn.fetchval("INSERT INTO resource_item (unit_id, category, description)"
                                           " VALUES ($1, '生活物资', '矩阵') RETURNING id", city.unit[side])
            world.ids[side] = {
                "item": item, "redemption": redemption, "to_confirm": to_confirm, "resource": resource,
                "district": city.district[side], "community": community, "grid": grid,
                "unit": city.unit[side], "other_unit": extra_unit[side], "member": member.id,
                "registration": city.member_registrations[side][0],
                "unit_registration": city.unit_registrations[side][0],
                "need": need, "task": task, "campaign": campaign, "record": record, "transfer": transfer,
                "whistle": whistle, "account": account,
            }
        a1_reg = city.member_registrations["A"][0]
        number, code = "BDZMATRIX" + str(a1_reg), "ABCD2345"
        await conn.execute("INSERT INTO registration_certificate (registration_id, number, code)"
                           " VALUES ($1, $2, $3)", a1_reg, number, code)
        world.certificate = (number, code)
        # notifications: (A list) community A, member a1, unit A, subdistrict A; (B list) the same of B
        na, nb = city.notifications["A"], city.notifications["B"]
        district_notice = {
            side: await conn.fetchval(
                "INSERT INTO notification (recipient_kind, recipient_id, category, title, body, dedupe_key)"
                " VALUES ('district', $1, 'registration', '矩阵', '矩阵', $2) RETURNING id",
                city.district[side], f"matrix:district:{city.district[side]}")
            for side in ("A", "B")}
        world.notifications = {
            "A": {STAFF: na[0], MEMBER: na[1], UNIT: na[2], SUB: na[3], ORG: district_notice["A"]},
            "B": {STAFF: nb[0], MEMBER: nb[1], UNIT: nb[2], SUB: nb[3], ORG: district_notice["B"]},
        }
        world.revocable_tokens = [
            await conn.fetchval("INSERT INTO api_token (token_hash, role, scope_kind, scope_id, label)"
                                " VALUES ($1, 'member', 'member', $2, '矩阵') RETURNING id",
                                f"matrix-{side}-{city.members['a1'].id}", city.members["a1"].id)
            for side in ("A",)]
    return world


@pytest.fixture(scope="module", name="world")
async def world_fixture(pool: Pool) -> World:
    return await _build_world(pool)


@pytest.fixture(scope="module", name="runs")
async def runs_fixture(pool: Pool, world: World, tmp_path_factory: pytest.TempPathFactory) -> int:
    """An evaluation run over both sides, with its unit workbooks."""
    from temporalio.testing import ActivityEnvironment

    from activities.evaluation import EvaluationActivities
    from schemas.evaluation import EvaluationScope
    from schemas.evaluation_contract import RunStepInput
    from services import evaluation
    from tests.test_evaluation_figures import PERIOD

    city = world.city
    async with pool.acquire() as conn:
        run_id = await evaluation.create_run(
            conn, period=PERIOD, scope=EvaluationScope(district_ids=[city.district["A"], city.district["B"]]))
    await evaluation.compute_run(pool, run_id=run_id, partition_size=500)
    await ActivityEnvironment().run(EvaluationActivities(pool, reports_dir=tmp_path_factory.mktemp("reports"))
                                    .evaluation_unit_reports, RunStepInput(run_id=run_id))
    return run_id


@pytest.fixture(name="http")
async def http_fixture(pool: Pool, client: Client) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pool=pool, temporal_client=client)
    app.state.task_queue = "authz-matrix-nobody-polls"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        yield http


def _objects(world: World, run_id: int, side: str, role: str) -> Objects:
    """What a request names for this side: A's objects, B's, or ids no row has."""
    base: Objects
    if side == "missing":
        base = {k: MISSING for k in world.ids["A"]}
        base["notification"] = MISSING
    else:
        base = dict(world.ids[side])
        base["notification"] = world.notifications[side].get(role, world.notifications[side][STAFF])
    base["run"] = run_id
    base["token"] = world.revocable_tokens[0]
    base["certificate"], base["certificate_code"] = world.certificate
    base["exchange_code"] = _exchange_code("A", 1)   # side A's redemption to confirm
    return base


async def _send(http: httpx.AsyncClient, world: World, method: str, case: Case, role: str,
                objects: Objects) -> httpx.Response:
    actor = ROLES[role]
    headers = world.city.auth(actor) if actor else {}
    kwargs = case.body(objects) if case.body else {}
    url = case.url.format(**objects)
    # a bounded wait: a request that hangs is a failure, not a stuck suite
    return await asyncio.wait_for(http.request(method, url, headers=headers, **kwargs), timeout=20)


_NUMBER = re.compile(r"\d+")


def _shape(resp: httpx.Response) -> tuple[int, str]:
    """Status and body with ids blanked: what a caller can compare between two answers."""
    return resp.status_code, _NUMBER.sub("#", resp.text)


PASSED = "passed authorization"


def _expected_inside(case: Case, role: str) -> str | int:
    if case.allowed == PUBLIC:
        return PASSED
    if role == "anonymous":
        return 401
    assert isinstance(case.allowed, frozenset)
    return PASSED if role in case.allowed else dict(case.refused_for).get(role, case.refused)


def _matches(resp: httpx.Response, expected: str | int, case: Case) -> bool:
    if case.allowed == PUBLIC:   # a wrong code or password is the route's own 401/404
        return resp.status_code != 403 and resp.status_code < 500
    if expected == PASSED:
        return resp.status_code not in (401, 403, 404) and resp.status_code < 500
    return resp.status_code == expected


def _framework_refusal(resp: httpx.Response) -> bool:
    """A 422 from request validation (the body itself malformed): the case's body is wrong."""
    return resp.status_code == 422 and "errors" in resp.json()


CELLS = [(route, role) for route in ROUTES for role in ROLES]


@pytest.mark.parametrize(("route", "role"), CELLS, ids=[f"{m} {p} {r}" for (m, p), r in CELLS])
async def test_authorization_cell(http: httpx.AsyncClient, world: World, runs: int,
                                  route: tuple[str, str], role: str) -> None:
    """Inside: the declared answer (passes, 403 or 401). Foreign and missing: the same status and
    body; for a role allowed on the route, that is 404."""
    method, _ = route
    case = ROUTES[route]
    inside = await _send(http, world, method, case, role, _objects(world, runs, "A", role))
    expected = _expected_inside(case, role)
    assert not _framework_refusal(inside), inside.text
    assert _matches(inside, expected, case), (expected, inside.status_code, inside.text[:300])
    if not case.scoped or case.allowed == PUBLIC:
        return
    foreign = await _send(http, world, method, case, role, _objects(world, runs, "B", role))
    missing = await _send(http, world, method, case, role, _objects(world, runs, "missing", role))
    assert not _framework_refusal(foreign), foreign.text
    assert _shape(foreign) == _shape(missing), (foreign.status_code, foreign.text[:300], missing.text[:300])
    if expected == PASSED:
        assert foreign.status_code == dict(case.foreign_for).get(role, case.foreign), foreign.text[:300]
    else:   # refused by role, or (a role that sees but may not act) foreign reads as absent
        assert foreign.status_code in (expected, 404), foreign.text[:300]
