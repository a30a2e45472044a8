// What a resident's phone opens when it scans a poster: the mobile pages (/m) with the code in the
// fragment (#code=...). A fragment is never sent to the server, so the secret code stays out of
// access logs and Referer headers; the mobile page reads it from location.hash.

export function needLink(code: string): string {
  return `${window.location.origin}/m/need#code=${encodeURIComponent(code)}`
}

export function ratingLink(code: string): string {
  return `${window.location.origin}/m/rate#code=${encodeURIComponent(code)}`
}
