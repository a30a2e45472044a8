// Chinese names of the evaluation's words, shared by the evaluation screens.

export const LEVEL_NAMES = {
  member: '党员',
  unit: '单位',
  community: '社区',
  subdistrict: '街道',
  district: '区',
  city: '全市',
} as const

export type Level = keyof typeof LEVEL_NAMES

export const RUN_STATUS = { running: '计算中', done: '已完成', failed: '失败' } as const

export const GRADE_TAG: Record<string, 'success' | 'primary' | 'warning' | 'danger'> = {
  优秀: 'success',
  合格: 'primary',
  基本合格: 'warning',
  不合格: 'danger',
}

export function pct(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${(value * 100).toFixed(1)}%`
}
