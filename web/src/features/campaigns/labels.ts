// Chinese names of the campaign words the API sends as codes.
import type { components } from '@/api/schema'

export type Campaign = components['schemas']['CampaignView']
export type CampaignStatus = components['schemas']['CampaignStatus']
export type LadderStep = components['schemas']['LadderStep']
export type Recipient = components['schemas']['Recipient']
export type ReminderStep = components['schemas']['ReminderStep']

export const CAMPAIGN_KINDS = ['在职党员进社区', '共产党员社区奉献日', '文明城市创建', '爱国卫生运动', '疫情防控动员']

export const STATUS: Record<CampaignStatus, { label: string; tag: 'info' | 'primary' | 'success' | 'warning' | 'danger' }> = {
  draft: { label: '草稿', tag: 'info' },
  launched: { label: '已发布', tag: 'primary' },
  running: { label: '进行中', tag: 'success' },
  paused: { label: '已暂停', tag: 'warning' },
  closed: { label: '已结束', tag: 'info' },
  evaluated: { label: '已考核', tag: 'info' },
  cancelled: { label: '已撤销', tag: 'danger' },
}

export const STEPS: Record<ReminderStep, string> = {
  remind: '提醒',
  urge: '催办',
  supervise: '督办',
  public_notice: '通报',
}

export const RECIPIENTS: Record<Recipient, string> = {
  member: '党员本人',
  unit: '所在单位',
  community: '报到社区',
  subdistrict: '街道',
}

/** Which steering actions the status allows (as domain/campaign_rules.py). */
export const ALLOWED: Record<string, CampaignStatus[]> = {
  launch: ['draft'],
  pause: ['launched', 'running'],
  resume: ['paused'],
  extend: ['launched', 'running', 'paused'],
  cancel: ['draft', 'launched', 'running', 'paused'],
  close: ['running', 'paused'],
  mobilise: ['launched', 'running'],
}

/** "-P3D" -> -3 (days); the ladder is edited in whole days. */
export function durationDays(iso: string): number {
  const m = /^(-)?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(iso)
  if (!m) return 0
  const days = Number(m[2] ?? 0) * 7 + Number(m[3] ?? 0) + Number(m[4] ?? 0) / 24 + Number(m[5] ?? 0) / 1440
  return m[1] ? -days : days
}

export function daysDuration(days: number): string {
  if (days === 0) return 'PT0S'
  return `${days < 0 ? '-' : ''}P${Math.abs(days)}D`
}

export function formatTime(value: string | null | undefined): string {
  if (!value) return '—'
  const d = new Date(value)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

export function percent(part: number, whole: number): string {
  return whole ? `${((part / whole) * 100).toFixed(1)}%` : '—'
}

export const EVENTS: Record<string, string> = {
  create: '创建',
  launch: '发布',
  start: '开始',
  pause: '暂停',
  resume: '恢复',
  extend: '延期',
  cancel: '撤销',
  close: '结束',
  mobilise: '平急转换',
  evaluate: '考核',
}

/** A ladder offset for people: "截止前 3 天", "截止当天", "截止后 2 天". */
export function offsetLabel(iso: string): string {
  const days = Math.round(durationDays(iso) * 10) / 10
  if (days === 0) return '截止当天'
  return days < 0 ? `截止前 ${-days} 天` : `截止后 ${days} 天`
}
