"""The registration certificate 报到证: issue and print for those entitled, check for anyone.

Printing is for the member themself, the admin of their employer unit and the staff of the
community they registered with. A certificate is issued on first print (number and verification
code stored) and every reprint shows the same number and code. The public check answers only
whether a paper is genuine and in force, with the community and a masked name.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

from db import registration_certificate as certificate_db
from db.pool import Conn
from db.registration_certificate import CertificateRow
from domain import certificate as rules
from domain import local_time
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.pii import mask_phone
from domain.scope import allows, own_member_id, path_of
from reports import certificate as certificate_page
from schemas.auth import Actor, Role, ScopeKind
from schemas.certificate import CertificateCheck, CertificateView, MyCertificate

PRINTABLE_STATUS = "active"
# Who prints a certificate: the member, their unit admin, their community. Organization
# departments and subdistricts work with statistics, not with single members' papers.
PRINTING_ROLES = frozenset({Role.member, Role.unit_admin, Role.community_staff})

_STATUS_WORDS = {
    "submitted": "待确认", "confirmed": "待编入网格", "paused": "已暂停", "rejected": "已退回",
    "withdrawn": "已退出", "transferred": "已转出", "lapsed": "已过期未重新报到",
}



def _new_number() -> str:
    return rules.NUMBER_PREFIX + "".join(secrets.choice(rules.CODE_ALPHABET) for _ in range(rules.NUMBER_LENGTH))


def _new_code() -> str:
    return "".join(secrets.choice(rules.CODE_ALPHABET) for _ in range(rules.CODE_LENGTH))


def _view(row: CertificateRow, printed_at: datetime) -> CertificateView:
    assert row.number is not None and row.code is not None   # issued by _issued
    return CertificateView(
        registration_id=row.registration_id, number=row.number, code=row.code,
        member_name=row.member_name, phone_masked=mask_phone(row.phone), unit_name=row.unit_name,
        community_name=row.community_name, subdistrict_name=row.subdistrict_name,
        district_name=row.district_name, grid_name=row.grid_name, branch_name=row.branch_name,
        registered_at=row.registered_at, valid_until=row.valid_until, printed_at=printed_at,
    )


async def _issued(conn: Conn, rows: list[CertificateRow]) -> list[CertificateRow]:
    """The rows again, each with its certificate (issuing the missing ones first)."""
    new = [r for r in rows if r.number is None]
    if new:
        await certificate_db.insert_certificates(
            conn, registration_ids=[r.registration_id for r in new],
            numbers=[_new_number() for _ in new],
            codes=[_new_code() for _ in new],
        )
        # Re-read: a concurrent first print may have won the insert, and its code is the one kept.
        rows = await certificate_db.select_certificate_rows(
            conn, registration_ids=[r.registration_id for r in rows])
    return rows


async def member_certificate(conn: Conn, actor: Actor, registration_id: int, *,
                             now: datetime | None = None) -> CertificateView:
    """The certificate of one active registration, for the member, their unit or their community."""
    if actor.role not in PRINTING_ROLES:   # refused before any lookup: the same for every id
        raise Forbidden("报到证由党员本人、所在单位或报到社区打印")
    async with conn.transaction():
        rows = await certificate_db.select_certificate_rows(conn, registration_ids=[registration_id])
        if not rows or not allows(actor, path_of(rows[0])):
            raise NotFound(f"报到记录 {registration_id} 不存在")
        row = rows[0]
        if row.status != PRINTABLE_STATUS:
            word = _STATUS_WORDS.get(row.status, row.status)
            raise Conflict(f"报到记录 {registration_id} {word}, 只有已生效的报到才能打印报到证")
        issued = await _issued(conn, rows)
    return _view(issued[0], local_time.now_or(now))


async def unit_certificates(conn: Conn, actor: Actor, unit_id: int, *, status: str = PRINTABLE_STATUS,
                            now: datetime | None = None) -> list[CertificateView]:
    """Every active registration's certificate of the unit's members, for the unit's admin."""
    if actor.scope_kind is ScopeKind.unit and actor.scope_id != unit_id:
        raise NotFound(f"单位 {unit_id} 不存在")
    if actor.role is not Role.unit_admin or actor.scope_id != unit_id:
        raise Forbidden("批量打印报到证由本单位管理员操作; 社区可逐份打印")
    if status != PRINTABLE_STATUS:
        raise InvalidInput("只能批量打印已生效(status=active)的报到证")
    async with conn.transaction():
        ids = await certificate_db.select_unit_registration_ids(conn, unit_id=unit_id, status=status)
        rows = await certificate_db.select_certificate_rows(conn, registration_ids=ids) if ids else []
        issued = await _issued(conn, rows)
    by_id = {r.registration_id: r for r in issued}
    at = local_time.now_or(now)
    return [_view(by_id[i], at) for i in ids]


async def check_certificate(conn: Conn, number: str, code: str, *, now: datetime | None = None) -> CertificateCheck:
    """Is this paper genuine and in force? A wrong number or code learns nothing but 'invalid'."""
    clean_number = number.strip().upper()
    clean_code = rules.normalized_code(code)
    invalid = CertificateCheck(number=clean_number, valid=False, message="证书编号或校验码不符, 该报到证无效")
    if not rules.code_shaped(clean_code):
        return invalid
    row = await certificate_db.select_by_number(conn, number=clean_number)
    if row is None or not hmac.compare_digest(str(row.code), clean_code):
        return invalid
    community, name = row.community_name, rules.mask_name(row.member_name)
    valid_until = row.valid_until
    if row.status != PRINTABLE_STATUS:
        word = _STATUS_WORDS.get(row.status, row.status)
        return CertificateCheck(number=clean_number, valid=False, community_name=community, member_name=name,
                                valid_until=valid_until, message=f"该报到证已失效: 报到{word}")
    if valid_until is not None and valid_until <= local_time.now_or(now):
        return CertificateCheck(number=clean_number, valid=False, community_name=community, member_name=name,
                                valid_until=valid_until, message="该报到证已过有效期, 请提醒党员重新报到")
    return CertificateCheck(number=clean_number, valid=True, community_name=community, member_name=name,
                            valid_until=valid_until, message="报到证有效")


async def my_certificate(conn: Conn, actor: Actor, *, base_url: str = "",
                         now: datetime | None = None) -> MyCertificate:
    """The member's own certificate (issued on first view) of their active registration, with the
    public check's address and its QR code, for the phone."""
    member_id = own_member_id(actor)
    registration_id = await certificate_db.select_active_registration_id(conn, member_id=member_id)
    if registration_id is None:
        raise Conflict("您还没有已生效的报到: 报到经社区确认并编入网格后才有报到证")
    view = await member_certificate(conn, actor, registration_id, now=now)
    return MyCertificate(
        **view.model_dump(), check_url=certificate_page.check_path(view.number, view.code, base_url),
        qr_data_uri=certificate_page.qr_data_uri(view.number, view.code, base_url),
    )


def render(views: Sequence[CertificateView], *, title: str = "报到证", base_url: str = "") -> str:
    """The printable HTML page of these certificates (one per printed page); their QR codes
    point at `base_url` + the public check."""
    return certificate_page.render_document(views, title=title, base_url=base_url)
