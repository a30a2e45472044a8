// A record's drawer whose address carries only the record's number (the API decides whether it may
// be seen): open while there is a number, closing asks the screen to drop it from the address, and
// each new number loads the record.
import { computed, watch, type WritableComputedRef } from 'vue'

export function useRecordDrawer(
  id: () => number | null,
  load: (id: number) => Promise<void>,
  close: () => void,
): WritableComputedRef<boolean> {
  watch(
    id,
    (value) => {
      if (value != null) void load(value)
    },
    { immediate: true },
  )
  return computed({
    get: () => id() != null,
    set: (value: boolean) => {
      if (!value) close()
    },
  })
}
