// How my lists load a page: `loading` while the call runs, the API's message in `failure` when it
// fails (the rows already shown stay). `load(offset)` appends when offset > 0 (the call decides).
import { ref } from 'vue'

import { errorMessage } from '@/api/errors'

export function usePagedLoad(call: (offset: number) => Promise<void>, initiallyLoading = false) {
  const loading = ref(initiallyLoading)
  const failure = ref('')

  async function load(offset = 0): Promise<void> {
    loading.value = true
    try {
      await call(offset)
      failure.value = ''
    } catch (error) {
      failure.value = errorMessage(error)
    } finally {
      loading.value = false
    }
  }

  return { loading, failure, load }
}
