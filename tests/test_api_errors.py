"""Errors are JSON {code, message} with a Chinese message and a fitting status; never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.api_fixtures import ApiCity, api_city_fixture, api_http_fixture  # noqa: F401


@pytest.mark.parametrize(
    "url",
    [
        "/members?limit=-1",
        "/members?limit=501",
        "/members?offset=-5",
        "/members/abc",
        "/members/99999999999999999999",
        "/units/0",
        "/members?community_id=99999999999999999999",
        "/members?status=bogus",
        "/statistics/registration?level=planet",
        "/registrations/members/abc/history",
        "/members?name=%00",
        "/units?name=a%00b",
    ],
)
async def test_bad_input_is_422_json(api_http: httpx.AsyncClient, api_city: ApiCity, url: str) -> None:
    """Malformed or out-of-range query and path values answer 422 invalid_input, not 500."""
    resp = await api_http.get(url, headers=api_city.auth("org_city"))
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["code"] == "invalid_input"
    assert body["message"].startswith("输入无效")


async def test_validation_message_names_the_field(api_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """The 422 message names the offending parameter so a person can fix it."""
    resp = await api_http.get("/members?limit=-1", headers=api_city.auth("org_city"))
    assert "limit" in resp.json()["message"]


@pytest.mark.parametrize("url", ["/members/999999999999", "/units/999999999999",
                                 "/registrations/members/999999999999/history"])
async def test_unknown_id_is_404_json(api_http: httpx.AsyncClient, api_city: ApiCity, url: str) -> None:
    """A well-formed id that does not exist answers 404 not_found with a Chinese message."""
    resp = await api_http.get(url, headers=api_city.auth("org_city"))
    assert resp.status_code == 404
    assert resp.json()["code"] == "not_found"
    assert "不存在" in resp.json()["message"]


async def test_unknown_route_is_404_json(api_http: httpx.AsyncClient) -> None:
    """An unknown path answers JSON 404, not an HTML page."""
    resp = await api_http.get("/no/such/route")
    assert resp.status_code == 404
    assert resp.json() == {"code": "not_found", "message": "请求的地址不存在"}


async def test_openapi_docs_served(api_http: httpx.AsyncClient) -> None:
    """The OpenAPI schema is published with the Chinese title."""
    resp = await api_http.get("/openapi.json")
    assert resp.json()["info"]["title"] == "双报到 API"
    assert (await api_http.get("/docs")).status_code == 200
