// A resident's page opened by a code in its hash: read the code, ask the API what it opens, and
// keep either the answer or the Chinese reason it does not open (no code, wrong, spent, expired).
import { onMounted, ref, type Ref } from 'vue'
import { useRoute } from 'vue-router'

import { errorMessage } from '@/api/errors'

import { hashParam } from './hash'

export function useOpenedCode<T>(name: string, whenMissing: string, open: (code: string) => Promise<T>) {
  const code = hashParam(useRoute().hash, name)
  const opens = ref<T | null>(null) as Ref<T | null>
  const opening = ref(true)
  const failure = ref('')

  onMounted(async () => {
    try {
      if (!code) failure.value = whenMissing
      else opens.value = await open(code)
    } catch (error) {
      failure.value = errorMessage(error)
    } finally {
      opening.value = false
    }
  })

  return { code, opens, opening, failure }
}
