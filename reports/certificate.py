"""The registration certificate 报到证 as a print-friendly HTML document (A5, Chinese, no external
assets: it must print from a community office with no internet), with the QR code of its public
check. The rules (number, code, masked name) are domain/certificate.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from urllib.parse import quote

import segno

from domain.local_time import LOCAL_ZONE
from schemas.certificate import CertificateView


def check_path(number: str, code: str, base_url: str = "") -> str:
    """The public check of one certificate (what its QR code holds): under `base_url`, the API's
    address as the printing user reached it, so a phone scanning the paper opens the check."""
    return f"{base_url.rstrip('/')}/certificates/{quote(number)}?code={quote(code)}"


def qr_svg(number: str, code: str, base_url: str = "") -> str:
    """The check address as an inline SVG QR code (no image file, no external asset)."""
    svg: str = segno.make(check_path(number, code, base_url), error="m").svg_inline(scale=2, border=2)
    return svg


def qr_data_uri(number: str, code: str, base_url: str = "") -> str:
    """The same QR code as an SVG data URI, for an <img> on the phone."""
    uri: str = segno.make(check_path(number, code, base_url), error="m").svg_data_uri(scale=4, border=2)
    return uri


def _day(at: datetime | None) -> str:
    return "—" if at is None else at.astimezone(LOCAL_ZONE).strftime("%Y年%m月%d日")


_CSS = """
@page { size: A5 portrait; margin: 12mm; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "SimSun", "Songti SC", "Noto Serif CJK SC", serif; color: #000; }
.certificate { width: 124mm; min-height: 180mm; margin: 0 auto; padding: 8mm 9mm;
  border: 3px double #b00; position: relative; page-break-after: always; break-after: page; }
.certificate:last-child { page-break-after: auto; break-after: auto; }
h1 { text-align: center; color: #b00; font-size: 26pt; letter-spacing: 0.4em; margin: 4mm 0 1mm; }
.subtitle { text-align: center; font-size: 11pt; margin-bottom: 6mm; }
.number { text-align: right; font-size: 9pt; margin-bottom: 4mm; }
table { width: 100%; border-collapse: collapse; font-size: 11pt; }
th, td { border: 1px solid #555; padding: 2.2mm 2mm; text-align: left; vertical-align: top; }
th { width: 30%; font-weight: normal; background: #f6eaea; }
.body-text { font-size: 11pt; line-height: 1.8; text-indent: 2em; margin: 5mm 0; }
.seal { margin-top: 8mm; text-align: right; font-size: 11pt; line-height: 2; }
.verify { margin-top: 6mm; border-top: 1px dashed #555; padding-top: 2mm; font-size: 8.5pt;
  display: flex; gap: 3mm; align-items: center; }
.code { font-family: "Courier New", monospace; font-size: 11pt; letter-spacing: 0.15em; }
@media screen { body { background: #eee; } .certificate { background: #fff; margin: 8mm auto; } }
"""


def render_section(view: CertificateView, base_url: str = "") -> str:
    """One certificate as an HTML section (one printed page)."""
    branch = view.branch_name or (f"{view.grid_name}党支部" if view.grid_name else "—")
    rows = [
        ("姓　　名", view.member_name),
        ("联系电话", view.phone_masked or "—"),
        ("工作单位", view.unit_name or "—"),
        ("报到社区", f"{view.district_name} {view.subdistrict_name} {view.community_name}"),
        ("所在网格", view.grid_name or "—"),
        ("网格党支部", branch),
        ("报到日期", _day(view.registered_at)),
        ("有效期至", f"{_day(view.valid_until)}(请在此日期前重新报到)"),
    ]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return (
        '<section class="certificate">'
        f'<div class="number">证书编号: {escape(view.number)}</div>'
        "<h1>报到证</h1>"
        '<div class="subtitle">在职党员到社区报到证明</div>'
        f"<table>{table}</table>"
        f'<p class="body-text">兹证明 {escape(view.member_name)} 同志已到 {escape(view.community_name)}'
        f"报到, 编入 {escape(branch)}, 参加社区组织生活和志愿服务。</p>"
        f'<div class="seal">{escape(view.community_name)}党组织(盖章)<br>{_day(view.printed_at)}</div>'
        f'<div class="verify">{qr_svg(view.number, view.code, base_url)}'
        "<div>核验: 社区工作者扫码或凭证书编号和校验码查询本证是否有效。<br>"
        f'校验码 <span class="code">{escape(view.code)}</span></div></div>'
        "</section>"
    )


def render_document(views: Sequence[CertificateView], *, title: str = "报到证", base_url: str = "") -> str:
    """A complete, self-contained HTML page holding one certificate per printed page."""
    sections = "".join(render_section(v, base_url) for v in views)
    if not sections:
        sections = '<p style="text-align:center">没有可打印的报到证</p>'
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{sections}</body></html>"
    )
