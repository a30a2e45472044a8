"""Chinese texts for the external channels (the inbox texts are in domain/notification_texts.py).

An SMS carries the platform's signature 【双报到】 and one line; the inbox body is often longer,
so the SMS keeps the title and as much of the body as fits in a long SMS.
"""

from __future__ import annotations

SMS_SIGNATURE = "【双报到】"
# Carriers join long SMS up to about 5 parts of 67 characters; beyond that, cut.
SMS_MAX_CHARS = 300
ROBOT_FOOTER = "——双报到平台"


def sms_text(title: str, body: str) -> str:
    """One SMS: signature, title, body, cut to SMS_MAX_CHARS."""
    text = f"{SMS_SIGNATURE}{title}: {body}"
    if len(text) <= SMS_MAX_CHARS:
        return text
    return text[: SMS_MAX_CHARS - 1] + "…"


def robot_body(body: str) -> str:
    """A group-robot message body with the platform's footer, so a group knows who posts it."""
    return f"{body}\n\n{ROBOT_FOOTER}"


def unit_report_ready(unit_name: str, period: str) -> tuple[str, str]:
    """(title, body) telling an employer unit its members' service record is ready."""
    return (
        f"{period}在职党员进社区情况反馈",
        f"「{unit_name}」{period}在职党员到社区报到和服务情况已生成,请登录双报到平台查看并下载本单位反馈表。",
    )
