"""钉钉自定义机器人 (DingTalk custom robot) webhook.

POST `https://oapi.dingtalk.com/robot/send?access_token=TOKEN` with
`{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}, "at": {"atMobiles": [...],
"isAtAll": false}}`. With 加签 (signing) the url also carries `timestamp` (ms) and
`sign` = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))); DingTalk
refuses a timestamp more than an hour off. The answer is `{"errcode": 0, "errmsg": "ok"}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote_plus

import httpx

from channels.transport import SendResult, errcode_result, post_json
from domain.pii import mask_phone, mask_text

# -1 system busy; 130101 sending too fast (20 a minute per robot): both pass, so retry later.
RETRYABLE_ERRCODES = frozenset({-1, 130101})


def sign(secret: str, timestamp_ms: int) -> str:
    """The url-encoded signature of `timestamp_ms` with the robot's secret."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    """The webhook url, with `timestamp` and `sign` appended when the robot has a secret."""
    if not secret:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={sign(secret, timestamp_ms)}"


def render(*, title: str, body: str, at_mobiles: list[str] | None = None) -> dict[str, Any]:
    """The request body; an @-mention only shows when the text holds `@<mobile>`, so it is appended."""
    mobiles = list(at_mobiles or [])
    text = f"#### {title}\n\n{body}"
    if mobiles:
        text += "\n\n" + " ".join(f"@{m}" for m in mobiles)
    return {
        "msgtype": "markdown",
        "markdown": {"title": title, "text": text},
        "at": {"atMobiles": mobiles, "isAtAll": False},
    }


def audit(request: dict[str, Any]) -> dict[str, Any]:
    """The request body as stored for audit: @-mentioned mobiles masked."""
    markdown = dict(request["markdown"])
    markdown["text"] = mask_text(markdown["text"])
    at = dict(request.get("at", {}))
    at["atMobiles"] = [mask_phone(m) for m in at.get("atMobiles", [])]
    return {**request, "markdown": markdown, "at": at}


async def send(
    http: httpx.AsyncClient, *, url: str, secret: str | None, request: dict[str, Any],
    timestamp_ms: int, timeout: float,
) -> SendResult:
    response = await post_json(http, signed_url(url, secret, timestamp_ms), request, timeout=timeout)
    if isinstance(response, SendResult):
        return response
    return errcode_result(response, retryable_codes=RETRYABLE_ERRCODES)
