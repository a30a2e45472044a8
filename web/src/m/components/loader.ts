// How a phone page loads: `loading` while the call runs, `loaded` once the first call has finished,
// the API's message in `failure` when it fails (what is already shown stays). `load(...)` passes its
// arguments to the call (my lists pass the offset to append from).
import { ref } from 'vue'

import { errorMessage } from '@/api/errors'

export function useLoader<Args extends unknown[]>(call: (...args: Args) => Promise<void>, initiallyLoading = false) {
  const loading = ref(initiallyLoading)
  const loaded = ref(false)
  const failure = ref('')

  async function load(...args: Args): Promise<void> {
    loading.value = true
    try {
      await call(...args)
      failure.value = ''
    } catch (error) {
      failure.value = errorMessage(error)
    } finally {
      loading.value = false
      loaded.value = true
    }
  }

  return { loading, loaded, failure, load }
}
