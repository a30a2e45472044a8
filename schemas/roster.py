"""Wire types of the roster import: the result, and the error report a clerk works through."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class RosterKind(StrEnum):
    hierarchy = "hierarchy"   # 区/街道/社区/网格 and 相邻网格
    units = "units"           # 报到单位
    members = "members"       # 在职党员



class RowError(BaseModel):
    """One bad cell: the row number and column header as the clerk sees them, and what to do."""

    row: int = Field(description="表格中的行号 (从1开始, 含标题行和表头)")
    column: str = Field(description="表头中的列名; 整行或整个文件的问题为空")
    message: str


class ImportErrorReport(BaseModel):
    """The 422 body of a rejected file: nothing was imported."""

    code: str = "roster_invalid"
    message: str
    errors: list[RowError]


class ImportResult(BaseModel):
    """What an accepted file changed. Importing the same file again reports inserted == 0."""

    kind: RosterKind
    file_name: str
    file_sha256: str
    rows: int = Field(description="数据行数 (不含空行和合计行)")
    skipped_total_rows: list[int] = Field(
        default_factory=list,
        description="识别为合计/小计/总计 (或「共N人」) 而跳过的行号: 这些行不是记录, 未导入",
    )
    inserted: int = Field(description="新增的记录数 (党员/单位/网格)")
    unchanged: int = Field(description="已存在且信息相同, 未作改动的行数")
    registrations: int = Field(default=0, description="新提交的个人报到数")
    cohort_id: int | None = None
    batch_id: int | None = None
    already_imported: bool = Field(default=False, description="同一文件此前已导入过")
    workflow_started: bool = False
