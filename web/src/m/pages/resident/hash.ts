// A code carried in the page's hash (#code=..., #follow=...): read once, never stored.

/** The value of `name` in a hash like "#code=abc&x=1", trimmed; '' when absent. */
export function hashParam(hash: string, name: string): string {
  return (new URLSearchParams(hash.replace(/^#/, '')).get(name) ?? '').trim()
}

/** The follow link of a placed need: a path under /m with the token in its hash. */
export function followPath(token: string): string {
  return `/m/need/status#follow=${encodeURIComponent(token)}`
}
