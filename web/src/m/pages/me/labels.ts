// Words and colours of the member's own states on the phone (the words are the console's).
import { REGISTRATION_STATUS } from '@/features/registrations/labels'
import { RECORD_STATUS } from '@/features/service_records/labels'
import { TRANSFER_STATUS } from '@/features/unit_transfers/labels'

import type { Tone } from '../../components/statuses'

export { RECORD_STATUS, REGISTRATION_STATUS, TRANSFER_STATUS }

export const REGISTRATION_TONE: Record<string, Tone> = {
  submitted: 'warning',
  confirmed: 'primary',
  active: 'success',
  paused: 'default',
  rejected: 'danger',
  withdrawn: 'default',
  transferred: 'default',
  lapsed: 'danger',
}

export const RECORD_TONE: Record<string, Tone> = { pending: 'warning', approved: 'success', rejected: 'danger' }

export const TRANSFER_TONE: Record<string, Tone> = {
  pending: 'warning',
  accepted: 'success',
  refused: 'danger',
  cancelled: 'default',
  expired: 'default',
}

export const LEDGER_NAME: Record<string, string> = { evaluation: '考评积分', redeemable: '可兑换积分' }

/** Registrations a member may not open a new one beside (the database allows one open at a time). */
export const OPEN_REGISTRATION = new Set(['submitted', 'confirmed', 'active', 'paused'])

/** Points as the ledger shows them: a sign, at most two decimals. */
export function signedPoints(points: number): string {
  const text = Number.isInteger(points) ? String(points) : points.toFixed(2).replace(/0+$/, '')
  return points > 0 ? `+${text}` : text
}
