// Forms that submit to the API: the API's Chinese message beside the field it names, or on top
// when it names none; nothing is kept half-done (the caller reloads only on success). A form whose
// refusals are about one field (a reason, a grid) names it as `beside`: a refusal naming no field
// (409, 403, a rule's 422) then shows beside that field instead of on top.
import { reactive, ref } from 'vue'

import { errorMessage, fieldErrors } from '@/api/errors'

export function useApiForm() {
  const fields = reactive<Record<string, string>>({})
  const message = ref('')
  const busy = ref(false)

  function clear(): void {
    for (const key of Object.keys(fields)) delete fields[key]
    message.value = ''
  }

  /** Run `call`; on failure fill `fields`/`message` and return null. */
  async function submit<T>(call: () => Promise<T>, beside?: string): Promise<T | null> {
    clear()
    busy.value = true
    try {
      return await call()
    } catch (error) {
      const named = fieldErrors(error)
      if (beside && !Object.keys(named).length) {
        fields[beside] = errorMessage(error)
      } else {
        Object.assign(fields, named)
        message.value = errorMessage(error)
      }
      return null
    } finally {
      busy.value = false
    }
  }

  return { fields, message, busy, submit, clear }
}
