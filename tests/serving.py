"""A member serving a task through the HTTP API, as their phone would: wait for the offer, accept
it, check in and check out with the task's QR token. One home for the tests that need a served task."""

from __future__ import annotations

import httpx

from tests.waiting import until


async def serve_task(http: httpx.AsyncClient, member_headers: dict[str, str], *, member_id: int, task_id: int,
                     qr_token: str, report: str = "已完成") -> None:
    await until(lambda: http.get(f"/tasks/{task_id}/offers", headers=member_headers),
                lambda resp: resp.status_code == 200 and bool(resp.json()))
    for path, body in (("answer", {"member_id": member_id, "accept": True}),
                       ("check-in", {"member_id": member_id, "token": qr_token}),
                       ("check-out", {"member_id": member_id, "token": qr_token, "report": report})):
        resp = await http.post(f"/tasks/{task_id}/{path}", json=body, headers=member_headers)
        assert resp.status_code == 200, (path, resp.text)
