// A mobile screen: each area under m/pages/<area>/routes.ts exports `mobileScreens`, gathered by
// m/router.ts at build time (like the console's features/*/routes.ts), so areas never edit a shared list.
import type { RouteComponent } from 'vue-router'

import type { Role } from '@/api/session'

export interface MobileScreen {
  /** Path under /m, without the leading "/m/" (e.g. "tasks", "checkin", "me/points"). */
  path: string
  name: string
  /** Page title: names the screen, never a person or a phone number. */
  title: string
  component: () => Promise<RouteComponent>
  /** Residents' pages: no sign-in (a code in the URL's hash is the only key). */
  public?: boolean
  /** Who may open it once signed in; absent = any signed-in role. */
  roles?: Role[]
  /** A tab of the bottom bar (signed-in pages only), with its Vant icon and order. */
  tab?: { icon: string; order: number }
  /** Show the nav bar's back arrow (pages reached from another page). */
  back?: boolean
  /** Opened on site from a poster's QR code: shown at once, without waiting for the session check
   * (its own calls answer 401 when nobody is signed in, and the client then goes to sign-in and back). */
  onSite?: boolean
}
