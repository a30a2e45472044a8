// Sign-in state shared by the console's and the phone pages' login screens: the phone check,
// the SMS code cooldown, and finishing (load the session, then go on). Each page keeps its own form.
import { onBeforeUnmount, ref } from 'vue'

import { requestCode, type Result } from './auth'
import { loadMe, type Me } from './session'

export interface SignInForm {
  phone: string
  password: string
  code: string
  newPassword?: string
}

export function useSignIn(form: SignInForm, proceed: (me: Me) => Promise<unknown>) {
  const busy = ref(false)
  const failure = ref('')
  const notice = ref('')
  const cooldown = ref(0)
  let timer: number | undefined

  function phoneProblem(): string {
    return /^1\d{10}$/.test(form.phone.trim()) ? '' : '请输入 11 位手机号'
  }

  function codeProblem(): string {
    return /^\d{4,10}$/.test(form.code.trim()) ? '' : '请输入短信验证码'
  }

  async function finish(result: Result): Promise<void> {
    if (!result.ok) {
      failure.value = result.error.message
      return
    }
    const me = await loadMe()
    form.password = ''
    form.code = ''
    if (form.newPassword !== undefined) form.newPassword = ''
    if (!me) {
      failure.value = '登录状态未能建立, 请检查浏览器是否允许 Cookie'
      return
    }
    await proceed(me)
  }

  /** Runs one sign-in call with the trimmed phone, marking the form busy meanwhile. */
  async function signIn(call: (phone: string) => Promise<Result>): Promise<void> {
    busy.value = true
    try {
      await finish(await call(form.phone.trim()))
    } finally {
      busy.value = false
    }
  }

  async function sendCode(): Promise<void> {
    failure.value = phoneProblem()
    if (failure.value) return
    const result = await requestCode(form.phone.trim())
    if (!result.ok) {
      failure.value = result.error.message
      return
    }
    notice.value = '如该手机号已开通账号, 验证码已发送'
    cooldown.value = 60
    timer = window.setInterval(() => {
      cooldown.value -= 1
      if (cooldown.value <= 0) window.clearInterval(timer)
    }, 1000)
  }

  onBeforeUnmount(() => window.clearInterval(timer))

  return { busy, failure, notice, cooldown, phoneProblem, codeProblem, signIn, sendCode }
}
