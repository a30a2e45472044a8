// The grids the signed-in staff member may see (their community's, or their subdistrict's ...),
// for filters, placement and task forms; loaded once per screen.
import { computed, ref, type ComputedRef, type Ref } from 'vue'

import { api } from '@/api/client'
import { errorMessage, unwrap } from '@/api/errors'

export interface GridOption {
  id: number
  name: string
  community_id: number
}

export function useGrids(): {
  grids: Ref<GridOption[]>
  byId: ComputedRef<Map<number, GridOption>>
  gridName: (id: number | null | undefined) => string
  loadGrids: () => Promise<void>
  gridsThen: (load: () => Promise<void>, failure: Ref<string>) => () => Promise<void>
} {
  const grids = ref<GridOption[]>([])
  const byId = computed(() => new Map(grids.value.map((g) => [g.id, g])))
  async function loadGrids(): Promise<void> {
    const page = unwrap(await api.GET('/grids', { params: { query: { limit: 500 } } }))
    grids.value = page.items.map((g) => ({ id: g.id, name: g.name, community_id: g.community_id }))
  }
  function gridName(id: number | null | undefined): string {
    if (id == null) return '未编入'
    return byId.value.get(id)?.name ?? `网格 ${id}`
  }
  /** For onMounted: the grids, then the screen's list (a grid failure shows in `failure`; the list still loads). */
  function gridsThen(load: () => Promise<void>, failure: Ref<string>): () => Promise<void> {
    return async () => {
      try {
        await loadGrids()
      } catch (error) {
        failure.value = errorMessage(error)
      }
      await load()
    }
  }
  return { grids, byId, gridName, loadGrids, gridsThen }
}
