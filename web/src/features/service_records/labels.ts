// Chinese words for service-record states (schemas/service_record.py ServiceRecordStatus).
export const RECORD_STATUS: Record<string, string> = { pending: '待核实', approved: '已核实', rejected: '已驳回' }
