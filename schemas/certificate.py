"""Wire types of the registration certificate 报到证: what is printed and what a check answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class CertificateView(BaseModel):
    """Everything one printed certificate shows (the phone already masked)."""

    model_config = ConfigDict(frozen=True)

    registration_id: int
    number: str
    code: str
    member_name: str
    phone_masked: str | None
    unit_name: str | None
    community_name: str
    subdistrict_name: str
    district_name: str
    grid_name: str | None
    branch_name: str | None
    registered_at: datetime
    valid_until: datetime | None
    printed_at: datetime


class CertificateCheck(BaseModel):
    """The public answer about a paper certificate: genuine and in force, or not, and nothing more."""

    number: str
    valid: bool
    community_name: str | None = None
    member_name: str | None = None   # masked (张*明)
    valid_until: datetime | None = None
    message: str


class MyCertificate(CertificateView):
    """The member's own certificate for the phone: the printed fields, the public check's
    address and its QR code as an SVG data URI."""

    check_url: str
    qr_data_uri: str
