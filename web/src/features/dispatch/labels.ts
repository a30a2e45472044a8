// Chinese words for the dispatch states the API sends (the same as domain/task_rules.py and
// domain/escalation.py say them), and the colour each state wears in a table.

export const TASK_STATUS: Record<string, string> = {
  open: '待认领',
  offering: '派单中',
  staffed: '已满员',
  in_progress: '服务中',
  done: '已完成待评价',
  follow_up: '待跟进',
  verified: '已核查',
  closed: '已销号',
  parked: '挂账',
  cancelled: '已取消',
}

export const TASK_STATUS_TAG: Record<string, 'success' | 'warning' | 'danger' | 'info' | 'primary'> = {
  open: 'primary',
  offering: 'primary',
  staffed: 'success',
  in_progress: 'success',
  done: 'warning',
  follow_up: 'danger',
  verified: 'success',
  closed: 'info',
  parked: 'danger',
  cancelled: 'info',
}

export const TASK_MODE: Record<string, string> = {
  dispatch: '派单 (系统择优邀请)',
  claim: '认领 (党员抢单)',
  post: '认岗 (常设岗位)',
}

export const TASK_MODE_SHORT: Record<string, string> = { dispatch: '派单', claim: '认领', post: '认岗' }

export const LEVEL: Record<string, string> = {
  grid: '本网格',
  adjacent: '相邻网格',
  community: '社区',
  subdistrict: '街道',
  district: '区',
}

export const URGENCY: Record<string, string> = { red: '红色 (数小时内)', yellow: '黄色 (一天内)', blue: '蓝色 (数天内)' }
export const URGENCY_SHORT: Record<string, string> = { red: '红', yellow: '黄', blue: '蓝' }
export const URGENCY_TAG: Record<string, 'danger' | 'warning' | 'primary'> = {
  red: 'danger',
  yellow: 'warning',
  blue: 'primary',
}

export const NEED_STATUS: Record<string, string> = {
  submitted: '待核查',
  verified: '已核查待派单',
  rejected: '已驳回',
  converted: '已转任务',
  closed: '已关闭',
}

export const OFFER_STATUS: Record<string, string> = {
  offered: '待答复',
  accepted: '已接单',
  declined: '已婉拒',
  expired: '已超时',
  withdrawn: '已撤回',
  no_show: '未到场',
}

/** The parts of an offer's score, in the order the matcher adds them ("why this member"). */
export const SCORE_PARTS: { key: 'proximity' | 'skills' | 'fairness' | 'quality' | 'unit_spread'; label: string; hint: string }[] = [
  { key: 'proximity', label: '就近', hint: '居住地与任务网格的远近: 同网格最高, 相邻网格次之' },
  { key: 'skills', label: '技能', hint: '具备任务所需技能的比例' },
  { key: 'fairness', label: '均衡', hint: '近期服务越少得分越高, 避免总派同一人' },
  { key: 'quality', label: '口碑', hint: '居民评价 (按样本量修正)' },
  { key: 'unit_spread', label: '单位分散', hint: '同一单位已选人数的扣减' },
]

const EVENT_KINDS: Record<string, string> = {
  created: '创建任务',
  status: '状态变更',
  escalated: '升级派单范围',
  offers_sent: '发出派单邀请',
  offers_expired: '邀请超时',
  offers_withdrawn: '邀请撤回',
  offer_accepted: '党员接单',
  offer_declined: '党员婉拒',
  claimed: '党员认领',
  checked_in: '扫码签到',
  checked_out: '扫码签退',
  no_show: '未到场',
  rated: '居民评价',
  cancelled: '取消任务',
  understaffed: '人手不足',
  understaffed_cleared: '人手已补齐',
  verification_rejected: '核查不通过',
  notified_escalated: '升级通知',
  notified_parked: '挂账通知',
  notified_follow_up: '跟进通知',
  overdue_member: '超期提醒党员',
  overdue_community: '超期提醒社区',
}

export function eventLabel(kind: string): string {
  return EVENT_KINDS[kind] ?? kind
}

export function statusLabel(status: string | null | undefined): string {
  return status ? (TASK_STATUS[status] ?? status) : ''
}
