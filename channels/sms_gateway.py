"""A generic SMS gateway webhook (短信网关): one JSON POST per message to the gateway's url.

Body `{"phone": ..., "template": ..., "params": {...}, "text": ...}` with an `Idempotency-Key`
header: a retry after a timeout carries the same key, and the gateway sends one SMS per key.
Any 2xx means accepted; 409 means the gateway already has this key (accepted before), so it
counts as sent too. 408/429/5xx are retried; any other 4xx is permanent.
"""

from __future__ import annotations

from typing import Any

import httpx

from channels.transport import SENT, SendResult, from_status, post_json
from domain.pii import mask_phone

IDEMPOTENCY_HEADER = "Idempotency-Key"


def render(*, phone: str, template: str, params: dict[str, str], text: str) -> dict[str, Any]:
    return {"phone": phone, "template": template, "params": dict(params), "text": text}


def audit(request: dict[str, Any]) -> dict[str, Any]:
    """The request body as stored for audit: the phone masked (the real one is read from member)."""
    return {**request, "phone": mask_phone(request["phone"])}


async def send(
    http: httpx.AsyncClient, *, url: str, request: dict[str, Any], idempotency_key: str,
    timeout: float,
) -> SendResult:
    response = await post_json(http, url, request, headers={IDEMPOTENCY_HEADER: idempotency_key},
                               timeout=timeout)
    if isinstance(response, SendResult):
        return response
    if response.status_code == 409:
        return SENT
    failed = from_status(response.status_code)
    return SENT if failed is None else failed
