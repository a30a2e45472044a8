// Times as a clerk reads them: local wall clock, minutes, no seconds or zone letters.

function pad(n: number): string {
  return String(n).padStart(2, '0')
}

export function formatDateTime(value: string | null | undefined): string {
  if (!value) return ''
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return value
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

export function formatDate(value: string | null | undefined): string {
  return formatDateTime(value).slice(0, 10)
}
