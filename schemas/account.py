"""Wire types of sign-in for people and of account administration.

Every text field is bounded, so a huge body is refused by validation before any work. Phones are
mainland mobile numbers (11 digits starting 1[3-9]); an account's phone is shown masked to
those not entitled to it (domain/privacy.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from schemas.auth import Role, ScopeKind
from schemas.text import Text

PHONE_PATTERN = r"^1[3-9]\d{9}$"

Phone = Annotated[Text, StringConstraints(strip_whitespace=True, pattern=PHONE_PATTERN, max_length=11),
                  Field(description="手机号 (11 位)", examples=["13800138000"])]
# Sign-in answers the same for any phone, so a malformed one is not revealed either: checked only
# for length here, then simply not found.
LoginPhone = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=20),
                       Field(description="手机号")]
Password = Annotated[Text, Field(min_length=1, max_length=128, description="密码")]
Code = Annotated[Text, StringConstraints(strip_whitespace=True, pattern=r"^\d{4,10}$", max_length=10),
                 Field(description="短信验证码或初始设置码")]
Label = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                  Field(description="姓名或说明")]


class LoginRequest(BaseModel):
    phone: LoginPhone
    password: Password


class CodeRequest(BaseModel):
    phone: LoginPhone


class CodeLoginRequest(BaseModel):
    phone: LoginPhone
    code: Code


class PasswordSetupRequest(BaseModel):
    phone: LoginPhone
    code: Code
    new_password: Text = Field(max_length=128, description="新密码: 至少 8 位, 须同时包含字母和数字")


class Me(BaseModel):
    """Who is signed in: what a token carries, plus the scope's name and the session's end."""

    role: Role
    scope_kind: ScopeKind
    scope_id: int | None
    label: str
    scope_name: str | None
    account_id: int | None = Field(description="人员账号编号; 以令牌访问时为空")
    expires_at: datetime | None = Field(description="会话到期时间 (空闲或绝对期限, 取较早者); 以令牌访问时为空")


class AccountSource(StrEnum):
    admin = "admin"                   # created by an administrator
    roster_member = "roster_member"   # from a member of the roster
    roster_unit = "roster_unit"       # from a unit's contact person
    demo = "demo"                     # `up --demo`


class CodeDelivery(StrEnum):
    show = "show"   # the setup code appears once in the answer, for the administrator to hand over
    sms = "sms"     # the setup code goes to the account's phone through the SMS gateway


class AccountCreate(BaseModel):
    phone: Phone
    label: Label
    role: Role
    scope_kind: ScopeKind
    scope_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    setup_code_delivery: CodeDelivery = Field(
        default=CodeDelivery.show, description="初始设置码: show 在应答中显示一次; sms 以短信发送")


class AccountView(BaseModel):
    id: int
    phone: str | None = Field(description="手机号 (无权查看者看到脱敏值)")
    label: str
    role: Role
    scope_kind: ScopeKind
    scope_id: int | None
    source: AccountSource
    password_set: bool
    locked_until: datetime | None
    disabled_at: datetime | None
    created_by: str
    created_at: datetime


class AccountCreated(BaseModel):
    account: AccountView
    setup_code: str | None = Field(
        description="初始设置码, 仅此一次显示 (以短信发送时为空); 本人凭它在 /auth/password/setup 设置密码")
    setup_code_expires_at: datetime


class RosterAccountKind(StrEnum):
    members = "members"              # every member with a mobile phone
    unit_contacts = "unit_contacts"  # every unit's contact person (role unit_admin)


class RosterAccountsRequest(BaseModel):
    kind: RosterAccountKind


class RosterAccountsResult(BaseModel):
    created: int = Field(description="新建的账号数")
    skipped: int = Field(description="未建账号: 无有效手机号, 或该手机号已有账号")
