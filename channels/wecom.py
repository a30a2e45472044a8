"""企业微信群机器人 (WeCom group robot) webhook.

POST `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY` with
`{"msgtype": "markdown", "markdown": {"content": ...}}`, or, to @ people by mobile (markdown
cannot), `{"msgtype": "text", "text": {"content": ..., "mentioned_mobile_list": [...]}}`.
The answer is `{"errcode": 0, "errmsg": "ok"}` on success.
"""

from __future__ import annotations

from typing import Any

import httpx

from channels.transport import SendResult, errcode_result, post_json
from domain.pii import mask_phone, mask_text

# -1 system busy; 45009 over the robot's 20 messages a minute: both pass, so retry later.
RETRYABLE_ERRCODES = frozenset({-1, 45009})
# The documented limits: markdown content 4096 bytes, text content 2048 bytes (UTF-8).
MARKDOWN_MAX_BYTES = 4096
TEXT_MAX_BYTES = 2048


def _clip(text: str, max_bytes: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[: max_bytes - 3].decode("utf-8", errors="ignore") + "…"


def render(*, title: str, body: str, mentioned_mobiles: list[str] | None = None) -> dict[str, Any]:
    """The request body: markdown, or text when some mobiles are to be @-mentioned."""
    if mentioned_mobiles:
        return {
            "msgtype": "text",
            "text": {
                "content": _clip(f"{title}\n{body}", TEXT_MAX_BYTES),
                "mentioned_mobile_list": list(mentioned_mobiles),
            },
        }
    return {
        "msgtype": "markdown",
        "markdown": {"content": _clip(f"### {title}\n> {body}", MARKDOWN_MAX_BYTES)},
    }


def audit(request: dict[str, Any]) -> dict[str, Any]:
    """The request body as stored for audit: mentioned mobiles masked."""
    if request.get("msgtype") != "text":
        return request
    text = dict(request["text"])
    text["content"] = mask_text(text["content"])
    text["mentioned_mobile_list"] = [mask_phone(m) for m in text.get("mentioned_mobile_list", [])]
    return {**request, "text": text}


async def send(
    http: httpx.AsyncClient, *, url: str, request: dict[str, Any], timeout: float
) -> SendResult:
    response = await post_json(http, url, request, timeout=timeout)
    if isinstance(response, SendResult):
        return response
    return errcode_result(response, retryable_codes=RETRYABLE_ERRCODES)
