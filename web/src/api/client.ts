// The one typed API client: openapi-fetch over the generated schema (schema.d.ts).
// Same-origin cookies carry the session; a middleware adds the CSRF header to state-changing calls
// and sends the browser to sign-in on 401 (with the current path only, never personal data).
import createClient, { type Middleware } from 'openapi-fetch'

import type { paths } from './schema'

export const CSRF_COOKIE = 'sbd_csrf'
export const CSRF_HEADER = 'X-CSRF-Token'
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

export function readCookie(name: string): string | null {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=')
    if (key === name) return decodeURIComponent(rest.join('='))
  }
  return null
}

/** Where to go to sign in, coming back to `path` afterwards: the mobile sign-in for /m pages (the
 * way back, hash included, rides in its hash), else the console's (a console path only). */
export function signInLocation(path: string, hash = ''): string {
  if (path === '/m' || path.startsWith('/m/')) return `/m/login#next=${encodeURIComponent(path + hash)}`
  const next = path.startsWith('/admin') && !path.startsWith('/admin/login') ? path : '/admin'
  return `/admin/login?next=${encodeURIComponent(next)}`
}

// Calls that answer 401 as part of their meaning (wrong password, not signed in yet).
// Set once the page is on its way to sign-in.
let leaving = false

const NO_REDIRECT = ['/auth/login', '/auth/otp/', '/auth/password/', '/auth/me']

const sessionMiddleware: Middleware = {
  onRequest({ request }) {
    if (!SAFE_METHODS.has(request.method.toUpperCase())) {
      const token = readCookie(CSRF_COOKIE)
      if (token) request.headers.set(CSRF_HEADER, token)
    }
    return request
  },
  onResponse({ request, response }) {
    const path = new URL(request.url).pathname
    if (response.status === 401 && !NO_REDIRECT.some((p) => path.startsWith(p))) {
      const here = window.location.pathname
      // Several calls in flight may all answer 401: go to sign-in once, or the second
      // navigation aborts the first.
      if (!leaving && !here.startsWith('/admin/login') && !here.startsWith('/m/login')) {
        leaving = true
        window.location.assign(signInLocation(here, window.location.hash))
      }
    }
    return response
  },
}

export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' })
api.use(sessionMiddleware)
