// Keys of the hierarchy tree selector: "kind:id", e.g. "community:12".

export type NodeKind = 'district' | 'subdistrict' | 'community' | 'grid'

export interface HierarchyNode {
  key: string
  kind: NodeKind
  id: number
  label: string
  isLeaf: boolean
  disabled?: boolean
}

export function parseKey(key: string): { kind: NodeKind; id: number } {
  const [kind, id] = key.split(':')
  return { kind: kind as NodeKind, id: Number(id) }
}
