// Sign-in calls (/auth/*): the same openapi-fetch client and middleware as every other call.
import { api } from './client'
import { type ApiErrorBody, isApiError } from './errors'
import type { Me } from './session'

export type Result = { ok: true; me: Me | null } | { ok: false; status: number; error: ApiErrorBody }

async function asResult(call: Promise<{ data?: unknown; error?: unknown; response: Response }>): Promise<Result> {
  try {
    const { data, error, response } = await call
    if (response.ok) {
      const body = data as { me?: Me } | Me | undefined
      const me = body && 'me' in body ? (body.me ?? null) : ((body as Me | undefined) ?? null)
      return { ok: true, me }
    }
    const fallback = { code: 'http_error', message: `请求失败 (${response.status})` }
    return { ok: false, status: response.status, error: isApiError(error) ? error : fallback }
  } catch {
    return { ok: false, status: 0, error: { code: 'network', message: '无法连接服务器, 请检查网络后重试' } }
  }
}

// The sign-in routes' paths are typed by the generated schema once they are in the API.
type Untyped = Parameters<typeof api.POST>[0]

export function loginWithPassword(phone: string, password: string): Promise<Result> {
  return asResult(api.POST('/auth/login' as Untyped, { body: { phone, password } } as never))
}

export function requestCode(phone: string): Promise<Result> {
  return asResult(api.POST('/auth/otp/request' as Untyped, { body: { phone } } as never))
}

export function loginWithCode(phone: string, code: string): Promise<Result> {
  return asResult(api.POST('/auth/otp/login' as Untyped, { body: { phone, code } } as never))
}
