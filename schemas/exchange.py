"""The API's models of the points exchange 积分兑换 (道德银行): providers, items, redemptions.

Pure rules (who may do what, the code's shape, when a code expires) are domain/exchange.py; the
service is services/exchange.py.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from schemas.account import Phone
from schemas.moments import Moment
from schemas.text import Text

ShortText = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ProviderKind(StrEnum):
    unit = "unit"           # a co-building unit 共建单位, acting through its unit_admin accounts
    merchant = "merchant"   # a local merchant admitted to 道德联盟, with accounts of the role provider


class ItemStatus(StrEnum):
    listed = "listed"       # 上架
    withdrawn = "withdrawn"  # 已下架


class RedemptionState(StrEnum):
    issued = "issued"         # 待领取
    collected = "collected"   # 已领取 (code confirmed)
    expired = "expired"       # 已过期 (points returned)


# ------------------------------------------------------------------ providers


class ProviderAdmit(BaseModel):
    """Admitting a merchant to 道德联盟: the provider and the account its keeper signs in with."""

    name: ShortText = Field(description="商户名称")
    community_id: int = Field(ge=1, le=2**63 - 1, description="商户所在社区")
    address: Annotated[Text, Field(max_length=200, description="地址")] = ""
    contact_name: ShortText = Field(description="联系人 (账号名称)")
    phone: Phone


class ProviderView(BaseModel):
    id: int
    kind: ProviderKind
    name: str
    community_id: int
    community_name: str
    unit_id: int | None
    address: str | None
    admitted_at: datetime
    items: int


class ProviderAdmitted(BaseModel):
    provider: ProviderView
    account_id: int
    setup_code: str | None = Field(description="首次登录设置码 (仅显示一次)")


# ------------------------------------------------------------------ items


class ItemCreate(BaseModel):
    """A provider lists an item. A co-building unit names the line of its resource list 资源清单
    the item comes from; a merchant does not. At most one of community_id / district_id says whose
    members may redeem; with neither, the members of the provider's own community."""

    name: ShortText = Field(description="物品名称")
    description: Annotated[Text, Field(max_length=500, description="说明")] = ""
    points: float = Field(gt=0, le=100_000, description="所需积分")
    stock: int = Field(ge=0, le=1_000_000, description="库存")
    valid_from: Moment = Field(description="可兑换起始时间")
    valid_until: Moment = Field(description="可兑换截止时间")
    collect_at: ShortText = Field(description="领取地点")
    collect_hours: int = Field(default=72, ge=1, le=2160, description="兑换后须在多少小时内领取")
    community_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="可兑换的社区")
    district_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="可兑换的区")
    resource_item_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="共建单位资源清单条目")

    @model_validator(mode="after")
    def _one_place(self) -> ItemCreate:
        if self.community_id is not None and self.district_id is not None:
            raise ValueError("community_id 与 district_id 只能填写一项 (可兑换的社区或区)")
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until 须晚于 valid_from (可兑换截止时间须晚于起始时间)")
        return self


class StockUpdate(BaseModel):
    stock: int = Field(ge=0, le=1_000_000, description="库存")


class ValidityUpdate(BaseModel):
    """A provider changes when its item may be redeemed and how long a code waits to be collected
    (redemptions already made keep the deadline they were given)."""

    valid_from: Moment = Field(description="可兑换起始时间")
    valid_until: Moment = Field(description="可兑换截止时间")
    collect_hours: int = Field(ge=1, le=2160, description="兑换后须在多少小时内领取")

    @field_validator("valid_until")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("valid_from")
        if start is not None and value <= start:   # named on valid_until, so the form shows it there
            raise ValueError("可兑换截止时间须晚于起始时间 (valid_until)")
        return value


class ResourceView(BaseModel):
    """A line of a co-building unit's resource list 资源清单, which its items come from."""

    id: int
    category: str
    description: str
    quantity: int | None


class ItemView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    provider_id: int
    provider_name: str
    name: str
    description: str
    points: float
    stock: int
    valid_from: datetime
    valid_until: datetime
    collect_at: str
    collect_hours: int
    community_id: int | None
    district_id: int | None
    status: ItemStatus
    issued: int = Field(description="待领取的兑换数")
    collected: int = Field(description="已领取的兑换数")


# ------------------------------------------------------------------ redemptions


RequestId = Annotated[Text, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_-]{8,64}$", max_length=64),
                      Field(description="客户端生成的请求编号 (重试时不变)")]
ExchangeCode = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=20),
                         Field(description="兑换码")]


class RedeemInput(BaseModel):
    request_id: RequestId


class RedemptionView(BaseModel):
    id: int
    item_id: int
    item_name: str
    provider_name: str
    collect_at: str
    member_id: int | None = Field(description="仅党员本人与工作人员可见")
    member_name: str = Field(description="兑换的党员 (兑换方看到的是遮蔽后的姓名)")
    points: float
    state: RedemptionState
    created_at: datetime
    expires_at: datetime
    collected_at: datetime | None


class Redeemed(BaseModel):
    """A redemption and its one-time code (shown once; only a hash is kept)."""

    redemption: RedemptionView
    code: str
    balance: float = Field(description="兑换后的可兑换积分余额")


class CodeReissued(BaseModel):
    redemption: RedemptionView
    code: str


class ConfirmInput(BaseModel):
    code: ExchangeCode


class ExchangeBalance(BaseModel):
    balance: float = Field(description="可兑换积分余额")
    ledger_sum: float = Field(description="可兑换积分流水合计 (应与余额相等)")
