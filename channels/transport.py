"""Posting a JSON body and classifying what came back: ok, worth retrying, or permanent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class SendResult:
    ok: bool
    retryable: bool = False
    # A short reason for people (shown in GET /deliveries); never holds the url or a phone.
    error: str | None = None


SENT = SendResult(ok=True)


def from_status(status_code: int) -> SendResult | None:
    """None for a 2xx answer (the body decides); otherwise the failure the HTTP status means."""
    if 200 <= status_code < 300:
        return None
    # 408/429 and 5xx are the receiver's temporary trouble; any other 4xx will not get better.
    retryable = status_code in (408, 425, 429) or status_code >= 500
    return SendResult(ok=False, retryable=retryable, error=f"HTTP {status_code}")


async def post_json(
    http: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    timeout: float,
) -> httpx.Response | SendResult:
    """The response, or the retryable failure of a request that got none."""
    try:
        return await http.post(url, json=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        # The receiver may have acted on it: the retry must carry the same idempotency key.
        return SendResult(ok=False, retryable=True, error=f"超时 ({type(exc).__name__})")
    except httpx.TransportError as exc:
        return SendResult(ok=False, retryable=True, error=f"连接失败 ({type(exc).__name__})")


def errcode_result(response: httpx.Response, *, retryable_codes: frozenset[int]) -> SendResult:
    """WeCom and DingTalk answer HTTP 200 with `{"errcode": 0, "errmsg": "ok"}`; anything else failed."""
    failed = from_status(response.status_code)
    if failed is not None:
        return failed
    try:
        answer = response.json()
    except ValueError:
        return SendResult(ok=False, retryable=True, error="应答不是 JSON")
    if not isinstance(answer, dict) or "errcode" not in answer:
        return SendResult(ok=False, retryable=True, error="应答缺少 errcode")
    code = answer["errcode"]
    if code == 0:
        return SENT
    message = str(answer.get("errmsg", ""))[:200]
    return SendResult(ok=False, retryable=code in retryable_codes, error=f"errcode {code}: {message}")
