"""Scope isolation: an actor of community A never reads community B's data through any route."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.api_fixtures import ApiCity, api_city_fixture, api_http_fixture  # noqa: F401

# route → the ids of side A / side B that route would show, and how to read ids from a response.
SideIds = Callable[[ApiCity, str], set[int]]


def _items(body: dict[str, object]) -> list[dict[str, object]]:
    items = body["items"]
    assert isinstance(items, list)
    return items


LIST_ROUTES: dict[str, SideIds] = {
    "/districts": lambda c, s: {c.district[s]},
    "/subdistricts": lambda c, s: {c.subdistrict[s]},
    "/communities": lambda c, s: {c.community[s]},
    "/grids": lambda c, s: set(c.grids[s]),
    "/units": lambda c, s: {c.unit[s]},
    "/members": lambda c, s: c.side_members(s),
    "/registrations/members": lambda c, s: set(c.member_registrations[s]),
    "/registrations/units": lambda c, s: set(c.unit_registrations[s]),
    "/inbox": lambda c, s: set(c.notifications[s]),
    "/statistics/registration?level=community": lambda c, s: {c.community[s]},
}


@pytest.mark.parametrize("route", list(LIST_ROUTES))
async def test_community_staff_lists_only_their_community(
    api_http: httpx.AsyncClient, api_city: ApiCity, route: str
) -> None:
    """Community A's staff see A's rows on every list route and none of B's."""
    resp = await api_http.get(route, headers=api_city.auth("staff_a"), params={"limit": 500})
    assert resp.status_code == 200, resp.text
    seen = {int(str(item["id"])) for item in _items(resp.json())}
    side_ids = LIST_ROUTES[route]
    assert seen & side_ids(api_city, "A"), "A's own rows must be visible"
    assert not seen & side_ids(api_city, "B")


@pytest.mark.parametrize("route", list(LIST_ROUTES))
async def test_community_filter_cannot_widen_scope(
    api_http: httpx.AsyncClient, api_city: ApiCity, route: str
) -> None:
    """Asking for community B by filter while scoped to A returns nothing of B."""
    resp = await api_http.get(
        route, headers=api_city.auth("staff_a"), params={"community_id": api_city.community["B"]}
    )
    assert resp.status_code == 200, resp.text
    seen = {int(str(item["id"])) for item in _items(resp.json())}
    assert not seen & LIST_ROUTES[route](api_city, "B")


# route → the place filters it takes. Narrowed to side B's district, subdistrict or community, the
# whole city's organization department sees exactly side B's rows (every fixture city's places are
# its own).
AREA_FILTERS = {
    "/subdistricts": ["district_id"],
    "/communities": ["district_id", "subdistrict_id"],
    "/grids": ["district_id", "subdistrict_id", "community_id"],
    "/units": ["district_id", "subdistrict_id", "community_id"],
    "/members": ["district_id", "subdistrict_id", "community_id"],
    "/registrations/members": ["district_id", "subdistrict_id", "community_id"],
    "/registrations/units": ["district_id", "subdistrict_id", "community_id"],
}


@pytest.mark.parametrize(
    ("route", "param"), [(route, param) for route, params in AREA_FILTERS.items() for param in params]
)
async def test_area_filter_narrows_to_that_area(
    api_http: httpx.AsyncClient, api_city: ApiCity, route: str, param: str
) -> None:
    """A district, subdistrict or community filter gives exactly that area's rows."""
    area = {"district_id": api_city.district, "subdistrict_id": api_city.subdistrict,
            "community_id": api_city.community}[param]["B"]
    resp = await api_http.get(route, headers=api_city.auth("org_city"), params={param: area, "limit": 500})
    assert resp.status_code == 200, resp.text
    assert {int(str(item["id"])) for item in _items(resp.json())} == LIST_ROUTES[route](api_city, "B")


async def test_grid_unit_and_member_filters_narrow_registrations_and_members(
    api_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """Grid, unit and member filters pick the rows of that grid, employer unit or member."""
    m, regs = api_city.members, api_city.member_registrations
    cases = [
        ("/members", {"grid_id": api_city.grids["B"][0]}, {m["b1"].id, m["b2"].id}),
        ("/members", {"unit_id": api_city.unit["B"]}, {m["a2"].id, m["b1"].id}),
        ("/registrations/members", {"grid_id": api_city.grids["B"][0]}, set(regs["B"])),
        ("/registrations/members", {"member_id": m["b2"].id}, set(regs["B"][1:])),
        ("/registrations/members", {"unit_id": api_city.unit["A"], "community_id": api_city.community["B"]},
         set(regs["B"][1:])),
        ("/registrations/units", {"unit_id": api_city.unit["B"]}, set(api_city.unit_registrations["B"])),
    ]
    for route, params, expected in cases:
        resp = await api_http.get(route, headers=api_city.auth("org_city"), params=params)
        assert resp.status_code == 200, resp.text
        assert {int(str(item["id"])) for item in _items(resp.json())} == expected, (route, params)


ITEM_ROUTES: dict[str, Callable[[ApiCity, str], str]] = {
    "unit": lambda c, s: f"/units/{c.unit[s]}",
    "member": lambda c, s: f"/members/{c.members[s.lower() + '1'].id}",
    "history": lambda c, s: f"/registrations/members/{c.member_registrations[s][0]}/history",
}


@pytest.mark.parametrize("kind", list(ITEM_ROUTES))
async def test_item_outside_scope_is_not_found(
    api_http: httpx.AsyncClient, api_city: ApiCity, kind: str
) -> None:
    """An item of community B reads as 404 for A's staff, while A's counterpart reads fine."""
    own = await api_http.get(ITEM_ROUTES[kind](api_city, "A"), headers=api_city.auth("staff_a"))
    assert own.status_code == 200, own.text
    other = await api_http.get(ITEM_ROUTES[kind](api_city, "B"), headers=api_city.auth("staff_a"))
    assert other.status_code == 404
    assert other.json()["code"] == "not_found"


async def test_marking_another_inbox_read_is_not_found(
    api_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """A's staff cannot mark B's notification read; their own works and sets read_at."""
    theirs = api_city.notifications["B"][0]
    resp = await api_http.post(f"/inbox/{theirs}/read", headers=api_city.auth("staff_a"))
    assert resp.status_code == 404
    mine = api_city.notifications["A"][0]
    resp = await api_http.post(f"/inbox/{mine}/read", headers=api_city.auth("staff_a"))
    assert resp.status_code == 200
    assert resp.json()["read_at"] is not None


async def test_history_lists_status_steps(api_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """The history route returns each status change of the registration, oldest first."""
    reg = api_city.member_registrations["A"][0]  # a1: submitted → active
    resp = await api_http.get(f"/registrations/members/{reg}/history", headers=api_city.auth("staff_a"))
    assert [(e["from_status"], e["to_status"]) for e in resp.json()] == [
        (None, "submitted"), ("submitted", "active"),
    ]


@pytest.mark.parametrize(
    ("actor", "visible", "hidden"),
    [
        ("unit_a", {"a1", "a3", "b2"}, {"a2", "b1"}),
        ("unit_b", {"a2", "b1"}, {"a1", "a3", "b2"}),
        ("member_a1", {"a1"}, {"a2", "a3", "b1", "b2"}),
        ("sub_s1", {"a1", "a2", "a3"}, {"b1", "b2"}),
        ("org_d1", {"a1", "a2", "a3"}, {"b1", "b2"}),
    ],
)
async def test_member_list_follows_each_role_scope(
    api_http: httpx.AsyncClient, api_city: ApiCity, actor: str, visible: set[str], hidden: set[str]
) -> None:
    """Units see their employees, members themselves, subdistricts and districts their area."""
    resp = await api_http.get("/members", headers=api_city.auth(actor), params={"limit": 500})
    seen = {int(str(i["id"])) for i in _items(resp.json())}
    assert {api_city.members[k].id for k in visible} <= seen
    assert not {api_city.members[k].id for k in hidden} & seen


async def test_audit_is_for_org_department_only(api_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """Community staff get 403 on the audit log; the organization department gets a page."""
    resp = await api_http.get("/audit", headers=api_city.auth("staff_a"))
    assert resp.status_code == 403
    assert resp.json()["code"] == "forbidden"
    resp = await api_http.get("/audit", headers=api_city.auth("org_city"))
    assert resp.status_code == 200
    assert set(resp.json()) == {"items", "total", "limit", "offset"}


async def test_members_search_and_paging(api_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """Name search, status filter and paging narrow the list and report the full total."""
    headers = api_city.auth("staff_a")
    tag = (await api_http.get(f"/members/{api_city.members['a1'].id}", headers=headers)).json()["name"][4:]
    page = (await api_http.get("/members", headers=headers, params={"name": tag, "limit": 2})).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["limit"] == 2
    page2 = (await api_http.get("/members", headers=headers,
                                params={"name": tag, "limit": 2, "offset": 2})).json()
    assert len(page2["items"]) == 1
    active = (await api_http.get("/members", headers=headers, params={"status": "active"})).json()
    assert [i["id"] for i in active["items"]] == [api_city.members["a1"].id]
    prefix = (await api_http.get("/members", headers=headers, params={"name_prefix": "党员a2"})).json()
    assert [i["id"] for i in prefix["items"]] == [api_city.members["a2"].id]


@pytest.mark.parametrize(
    ("actor", "kind", "side"),
    [("member_a1", "member", "A"), ("unit_a", "unit", "A"), ("sub_s1", "subdistrict", "A"),
     ("staff_b", "community", "B"), ("member_b1", "member", "B")],
)
async def test_inbox_holds_only_the_actors_own_notifications(
    api_http: httpx.AsyncClient, api_city: ApiCity, actor: str, kind: str, side: str
) -> None:
    """Each actor's inbox holds the notifications addressed to its own scope and nothing else."""
    resp = await api_http.get("/inbox", headers=api_city.auth(actor), params={"limit": 500})
    assert resp.status_code == 200
    items = _items(resp.json())
    ours = set(api_city.notifications["A"]) | set(api_city.notifications["B"])
    mine = [i for i in items if i["id"] in ours]
    assert len(mine) == 1
    assert mine[0]["recipient_kind"] == kind
    assert mine[0]["id"] in api_city.notifications[side]
    assert all(i["recipient_kind"] == kind for i in items)


@pytest.mark.parametrize("actor", ["staff_a", "unit_a", "member_a1", "sub_s1", "org_d1"])
async def test_token_admin_refused_below_city(
    api_http: httpx.AsyncClient, api_city: ApiCity, actor: str
) -> None:
    """Only the city organization department may list or issue tokens over the API."""
    resp = await api_http.get("/tokens", headers=api_city.auth(actor))
    assert resp.status_code == 403
    assert resp.json()["code"] == "forbidden"
