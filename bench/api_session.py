"""The benches' HTTP client of the API: signed in by phone and password, answers checked."""

from __future__ import annotations

from typing import Any

import httpx


def signed_in(base: str, phone: str, password: str, *, who: str, address: str | None = None) -> httpx.Client:
    """A client signed in as `who` (session cookie, CSRF header). `address` is sent as the
    forwarded client address: sign-in is braked per address, and a load test signs in many people."""
    http = httpx.Client(base_url=base, timeout=120, headers={"X-Forwarded-For": address} if address else None)
    r = http.post("/auth/login", json={"phone": phone, "password": password})
    if r.status_code != 200:
        http.close()
        raise SystemExit(f"{who} cannot sign in ({r.status_code}): is this a `up --demo` stack? {r.text[:300]}")
    http.headers["X-CSRF-Token"] = http.cookies["sbd_csrf"]
    return http


def ok(r: httpx.Response) -> Any:
    """The JSON of a 2xx answer; anything else stops the bench, naming the request."""
    if r.status_code >= 300:
        raise SystemExit(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}")
    return r.json()
