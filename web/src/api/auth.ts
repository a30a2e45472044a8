// Sign-in calls (/auth/*), typed by the generated schema like every other call.
import { api } from './client'
import { type ApiErrorBody, isApiError } from './errors'
import type { Me } from './session'

export type Result = { ok: true; me: Me | null } | { ok: false; status: number; error: ApiErrorBody }

async function asResult(call: Promise<{ data?: Me | unknown; error?: unknown; response: Response }>): Promise<Result> {
  try {
    const { data, error, response } = await call
    if (response.ok) return { ok: true, me: (data as Me | undefined) ?? null }
    const fallback = { code: 'http_error', message: `请求失败 (${response.status})` }
    return { ok: false, status: response.status, error: isApiError(error) ? error : fallback }
  } catch {
    return { ok: false, status: 0, error: { code: 'network', message: '无法连接服务器, 请检查网络后重试' } }
  }
}

export function loginWithPassword(phone: string, password: string): Promise<Result> {
  return asResult(api.POST('/auth/login', { body: { phone, password } }))
}

export function requestCode(phone: string): Promise<Result> {
  return asResult(api.POST('/auth/otp/request', { body: { phone } }))
}

export function loginWithCode(phone: string, code: string): Promise<Result> {
  return asResult(api.POST('/auth/otp/login', { body: { phone, code } }))
}

export function setupPassword(phone: string, code: string, newPassword: string): Promise<Result> {
  return asResult(api.POST('/auth/password/setup', { body: { phone, code, new_password: newPassword } }))
}
