// Time left until a moment, as a member reads it on the phone (天 / 小时 / 分 / 秒), and one ticking
// clock shared by every countdown on the page.
import { onBeforeUnmount, ref, type Ref } from 'vue'

/** "2天3小时", "3小时05分", "4分09秒"; '' when the moment has passed. */
export function timeLeft(untilMs: number, nowMs: number): string {
  const total = Math.floor((untilMs - nowMs) / 1000)
  if (total <= 0) return ''
  const days = Math.floor(total / 86400)
  const hours = Math.floor((total % 86400) / 3600)
  const minutes = Math.floor((total % 3600) / 60)
  const seconds = total % 60
  const two = (n: number): string => String(n).padStart(2, '0')
  if (days > 0) return `${days}天${hours}小时`
  if (hours > 0) return `${hours}小时${two(minutes)}分`
  return `${minutes}分${two(seconds)}秒`
}

/** Now, in milliseconds, updated every second while the component lives. */
export function useNow(): Ref<number> {
  const now = ref(Date.now())
  const timer = window.setInterval(() => {
    now.value = Date.now()
  }, 1000)
  onBeforeUnmount(() => window.clearInterval(timer))
  return now
}
