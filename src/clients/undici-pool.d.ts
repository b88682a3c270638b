/**
 * undici's Pool by its own module: the package's entry point also loads fetch, WebSocket, the
 * cache and the mock agents, some 3 MB of heap the service never uses (docs/performance.md).
 */
declare module "undici/lib/dispatcher/pool.js" {
  import type { Pool } from "undici";

  const PoolOfUndici: typeof Pool;
  export default PoolOfUndici;
}
