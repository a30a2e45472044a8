// What the dashboard shows, loaded in parallel; each part fails on its own with the API's message.
import { api } from '@/api/client'
import { ApiFailure, unwrap } from '@/api/errors'
import type { components } from '@/api/schema'
import type { Me } from '@/api/session'

export type Level = components['schemas']['StatisticsLevel']
export type Counts = components['schemas']['RegistrationCounts']
export type TrendMonth = components['schemas']['TrendMonth']
export type Campaign = components['schemas']['CampaignView']
export type Progress = components['schemas']['CampaignProgress']
export type RatesRow = components['schemas']['RatesRow']
export type LedgerRow = components['schemas']['LedgerRow']

export const LEDGER_LIMIT = 200
const LIVE: Campaign['status'][] = ['launched', 'running', 'paused']

/** The groups of `level` (the API serves at most 500: every district and subdistrict), or a page of them by 报到率 (highest or lowest first). */
export async function registrationCounts(
  level: Level,
  first?: { order: 'rate_asc' | 'rate_desc'; limit: number; offset?: number },
): Promise<{ items: Counts[]; total: number }> {
  const query = first ? { level, ...first } : { level }
  const data = unwrap(await api.GET('/statistics/registration', { params: { query } }))
  return { items: data.items, total: data.total }
}

/** The caller's own area month by month (the city, or its district / subdistrict / community). */
export async function trend(me: Me, months = 12): Promise<TrendMonth[]> {
  const own = ['district', 'subdistrict', 'community'] as const
  const kind = own.find((k) => k === me.scope_kind)
  const query = kind && me.scope_id ? { level: kind, id: me.scope_id, months } : { level: 'city' as const, months }
  return unwrap(await api.GET('/statistics/registration/trend', { params: { query } })).months
}

export interface CampaignProgress {
  campaign: Campaign
  members: number
  registered: number
  behindQuota: number
  tasksOpen: number
  tasksParked: number
  unitsBehind: number
  unitsWithQuota: number
}

/** The live campaigns (newest first, at most `max`) with their totals over the caller's area.
 * A campaign whose progress the caller may not read (one not covering its area) is left out. */
export async function liveCampaigns(max = 5): Promise<{ shown: CampaignProgress[]; total: number }> {
  const all = unwrap(await api.GET('/campaigns', { params: { query: { limit: 100 } } }))
  const live = all.filter((c) => LIVE.includes(c.status))
  const settled = await Promise.allSettled(
    live.slice(0, max * 2).map(async (campaign) => {
      const p = unwrap(
        await api.GET('/campaigns/{campaign_id}/progress', {
          params: { path: { campaign_id: campaign.id }, query: { level: 'district' } },
        }),
      )
      const sum = (k: 'members' | 'registered' | 'behind_quota' | 'tasks_open' | 'tasks_parked') =>
        p.rows.reduce((n, r) => n + r[k], 0)
      return {
        campaign,
        members: sum('members'),
        registered: sum('registered'),
        behindQuota: sum('behind_quota'),
        tasksOpen: sum('tasks_open'),
        tasksParked: sum('tasks_parked'),
        unitsBehind: p.unit_quota?.units_behind ?? 0,
        unitsWithQuota: p.unit_quota?.units ?? 0,
      }
    }),
  )
  const readable = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  if (!readable.length && settled.length) {
    const first = settled.find((r) => r.status === 'rejected')
    if (first?.status === 'rejected' && !(first.reason instanceof ApiFailure && first.reason.status === 404)) {
      throw first.reason
    }
  }
  // Every live campaign was asked about: the readable ones are the count; otherwise the list's.
  return { shown: readable.slice(0, max), total: settled.length === live.length ? readable.length : live.length }
}

export interface Rates {
  period_label: string
  area: RatesRow | null
}

/** 三率 this month for the caller's own area, live from the counters kept with the facts. */
export async function liveRates(me: Me): Promise<Rates> {
  const level =
    me.scope_kind === 'district' || me.scope_kind === 'subdistrict' || me.scope_kind === 'community'
      ? me.scope_kind
      : 'city'
  const data = unwrap(await api.GET('/statistics/rates', { params: { query: { level } } }))
  return { period_label: data.period_label, area: data.items[0] ?? null }
}

export interface LedgerAlerts {
  parked: LedgerRow[]
  overdue: LedgerRow[]
}

export async function ledgerAlerts(): Promise<LedgerAlerts> {
  const [parked, overdue] = await Promise.all([
    api.GET('/ledger', { params: { query: { parked: true, limit: LEDGER_LIMIT } } }),
    api.GET('/ledger', { params: { query: { overdue: true, limit: LEDGER_LIMIT } } }),
  ])
  return { parked: unwrap(parked), overdue: unwrap(overdue) }
}
