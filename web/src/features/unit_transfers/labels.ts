// Chinese words for unit-transfer states (schemas/unit_transfer.py UnitTransferStatus).
import type { components } from '@/api/schema'

export type TransferStatus = components['schemas']['UnitTransferStatus']

export const TRANSFER_STATUS: Record<TransferStatus, string> = {
  pending: '待确认', accepted: '已转入', refused: '已拒绝', cancelled: '已撤回', expired: '已失效',
}
