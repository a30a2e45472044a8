"""Wire type of the community's workbench 工作台: how many items wait in each of its work queues."""

from __future__ import annotations

from pydantic import BaseModel, Field


class WorkQueues(BaseModel):
    """Counts inside the caller's scope; each names the screen where the items are handled."""

    registrations_to_confirm: int = Field(description="待确认的个人报到 (报到审核)")
    registrations_to_place: int = Field(description="已确认、待编入网格的个人报到")
    needs_to_verify: int = Field(description="待核查的居民需求 (需求核查)")
    needs_to_dispatch: int = Field(description="已核查、待转为任务派单的需求")
    tasks_parked: int = Field(description="挂账任务 (待重新派单)")
    tasks_overdue: int = Field(description="超期未办结的任务")
    completions_to_verify: int = Field(description="居民已评价、待社区核查销号的任务")
    service_records_to_approve: int = Field(description="待核实的服务记录")
    whistles_open: int = Field(description="未办结的吹哨事项")
