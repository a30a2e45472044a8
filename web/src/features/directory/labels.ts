// Chinese names of registration statuses, as the console shows them.

export const MEMBER_STATUS: Record<string, string> = {
  submitted: '待确认',
  confirmed: '已确认',
  active: '报到有效',
  paused: '暂停',
  rejected: '已退回',
  withdrawn: '已撤回',
  transferred: '已转出',
  lapsed: '已失效',
}

export const UNIT_STATUS: Record<string, string> = {
  submitted: '待确认',
  active: '已报到',
  rejected: '已退回',
  lapsed: '已失效',
  withdrawn: '已撤回',
}

export function statusName(map: Record<string, string>, status: string | null | undefined): string {
  if (!status) return '未报到'
  return map[status] ?? status
}
