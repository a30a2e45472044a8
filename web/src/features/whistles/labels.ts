// Chinese words of 吹哨报到 (domain/whistle.py): states, summon answers, why a unit was summoned.
export const WHISTLE_STATUS: Record<string, string> = {
  summoning: '召集中',
  responded: '已响应',
  on_site: '到岗处置中',
  parked: '挂账',
  closed: '已办结',
}
export const WHISTLE_STATUS_TAG: Record<string, 'primary' | 'success' | 'warning' | 'danger' | 'info'> = {
  summoning: 'warning',
  responded: 'primary',
  on_site: 'success',
  parked: 'danger',
  closed: 'info',
}
export const SUMMON_STATUS: Record<string, string> = {
  summoned: '未响应',
  answered: '已报到响应',
  declined: '婉拒',
  arrived: '已到岗',
}
export const BASIS: Record<string, string> = { located: '驻社区单位', registered: '已报到单位', agreement: '共建协议单位' }
export const WHISTLE_LEVEL: Record<string, string> = { community: '社区', subdistrict: '街道', district: '区' }
export const RESOURCES = ['车辆', '抽排设备', '防汛物资', '防疫物资', '生活物资', '医疗救护', '专业技术', '工具器械', '通讯设备', '场地'] as const
const EVENTS: Record<string, string> = {
  blown: '吹哨',
  summoned: '召集单位',
  urged: '催促响应',
  answered: '单位响应',
  declined: '单位婉拒',
  arrived: '单位到岗',
  escalated: '升级召集范围',
  status: '状态变更',
  parked: '挂账',
  closed: '办结',
}
export function whistleEvent(kind: string): string {
  return EVENTS[kind] ?? kind
}
