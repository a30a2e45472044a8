// Chinese words for member registration states (domain/registration_rules.py MEMBER_STATUS_LABELS).
export const REGISTRATION_STATUS: Record<string, string> = {
  submitted: '待确认',
  confirmed: '已确认待编入网格',
  active: '已报到',
  paused: '已暂停',
  rejected: '已退回',
  withdrawn: '已退出',
  transferred: '已转出',
  lapsed: '已过期',
}
