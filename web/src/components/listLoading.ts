// How a screen loads a list: `loading` while a call runs, the API's message in `failure` when it
// fails (the caller clears what it had, so nothing half-filled stays). `usePagedList` adds the page
// and its size for a list the API serves a page at a time (limit/offset -> {items, total}).
import { ref, shallowRef, watch, type Ref } from 'vue'

import { errorMessage } from '@/api/errors'

export function useLoading(): {
  loading: Ref<boolean>
  failure: Ref<string>
  run: (call: () => Promise<void>, clear?: (error: unknown) => void) => Promise<boolean>
} {
  const loading = ref(false)
  const failure = ref('')

  /** Run `call` with `loading` on; on failure `clear` the screen's rows, show the message, return false. */
  async function run(call: () => Promise<void>, clear?: (error: unknown) => void): Promise<boolean> {
    loading.value = true
    failure.value = ''
    try {
      await call()
      return true
    } catch (error) {
      clear?.(error)
      failure.value = errorMessage(error)
      return false
    } finally {
      loading.value = false
    }
  }

  return { loading, failure, run }
}

export interface PageRequest {
  limit: number
  offset: number
}

/** One page of rows at a time; a page or size change reloads, `search()` starts again at page 1. */
export function usePagedList<Row>(
  fetchPage: (page: PageRequest) => Promise<{ items: Row[]; total: number }>,
  options: { pageSize?: number; onFailure?: (error: unknown) => void } = {},
) {
  const { loading, failure, run } = useLoading()
  const rows = shallowRef<Row[]>([])
  const total = ref(0)
  const page = ref(1)
  const pageSize = ref(options.pageSize ?? 20)

  async function load(): Promise<void> {
    await run(
      async () => {
        const body = await fetchPage({ limit: pageSize.value, offset: (page.value - 1) * pageSize.value })
        rows.value = body.items
        total.value = body.total
      },
      (error) => {
        rows.value = []
        total.value = 0
        options.onFailure?.(error)
      },
    )
  }

  function search(): void {
    if (page.value === 1) void load()
    else page.value = 1
  }

  watch([page, pageSize], () => void load())

  return { rows, total, page, pageSize, loading, failure, load, search }
}
