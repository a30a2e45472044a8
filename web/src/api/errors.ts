// The API's error body ({code, message, errors?}) and how a screen shows it.

export interface ApiErrorBody {
  code: string
  message: string
  errors?: { loc: (string | number)[]; type?: string; msg?: string }[] | null
}

export function isApiError(value: unknown): value is ApiErrorBody {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value
}

/** The API's body behind a failure: as returned, or carried by an ApiFailure (what `unwrap` throws). */
function bodyOf(error: unknown): ApiErrorBody | null {
  if (error instanceof ApiFailure) return error.body
  return isApiError(error) ? error : null
}

/** The Chinese message to show for a failed call (the API's own when it gave one). */
export function errorMessage(error: unknown): string {
  const body = bodyOf(error)
  if (body) return body.message
  if (error instanceof Error) return `请求失败: ${error.message}`
  return '请求失败, 请稍后重试'
}

/** Field name -> message, from a 422's `errors` (the last part of each location names the field). */
export function fieldErrors(error: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  const body = bodyOf(error)
  if (!body || !body.errors) return out
  for (const item of body.errors) {
    const loc = item.loc.filter((p) => p !== 'body' && p !== 'query' && p !== 'path')
    const field = loc.length ? String(loc[loc.length - 1]) : ''
    if (field && !out[field]) out[field] = body.message
  }
  return out
}

/** A thrown error carrying the API's body, so `errorMessage` finds its message. */
export class ApiFailure extends Error {
  constructor(public body: ApiErrorBody, public status: number) {
    super(body.message)
  }
}

/** openapi-fetch's `{data, error, response}` -> data, or throw ApiFailure. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) {
    const body = isApiError(result.error)
      ? result.error
      : { code: 'http_error', message: `请求失败 (${result.response.status})` }
    throw new ApiFailure(body, result.response.status)
  }
  return result.data
}
