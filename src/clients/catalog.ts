import type { CatalogInterface } from "../config/types.js";

/** A service of a Keystone v3 token's catalog, as much of it as endpoint selection reads. */
export interface CatalogService {
  readonly type: string;
  readonly name?: string | undefined;
  readonly endpoints: readonly CatalogEndpoint[];
}

export interface CatalogEndpoint {
  readonly interface: string;
  readonly region_id?: string | null | undefined;
  readonly region?: string | null | undefined;
  readonly url: string;
}

export interface EndpointFilter {
  readonly serviceType: string;
  readonly interface: CatalogInterface;
  readonly regionName: string | undefined;
}

/**
 * keystoneauth's selection rules: the service type matches exactly (metric-storage has no
 * aliases), the interface matches, the region matches region_id exactly, falling back to the
 * legacy `region` field; no region means every region; endpoints with an empty url are skipped;
 * the first match in catalog order wins.
 */
export function selectEndpoint(
  catalog: readonly CatalogService[],
  filter: EndpointFilter,
): string | undefined {
  for (const service of catalog) {
    if (service.type !== filter.serviceType) continue;
    for (const endpoint of service.endpoints) {
      if (!endpoint.url || endpoint.interface !== filter.interface) continue;
      if (filter.regionName !== undefined && (endpoint.region_id ?? endpoint.region) !== filter.regionName)
        continue;
      return endpoint.url;
    }
  }
  return undefined;
}

/** What the catalog holds for a service type (or every type when it has none), for start-up errors. */
export function describeCatalog(catalog: readonly CatalogService[], serviceType: string): string {
  const matching = catalog.filter((s) => s.type === serviceType);
  if (matching.length === 0) {
    const types = [...new Set(catalog.map((s) => s.type))].sort();
    return types.length === 0
      ? "the catalog is empty"
      : `the catalog has no ${serviceType} service; it holds: ${types.join(", ")}`;
  }
  const endpoints = matching.flatMap((s) =>
    s.endpoints.map(
      (e) => `${e.interface} in ${e.region_id ?? e.region ?? "no region"}${e.url ? "" : " (empty url)"}`,
    ),
  );
  return `the catalog's ${serviceType} endpoints are: ${endpoints.join("; ") || "none"}`;
}

/**
 * Splits a catalog URL the way observabilityclient does: origin for the connection, the path as the
 * API root; query, fragment and user-info are dropped.
 */
export function splitEndpointUrl(url: string): { origin: string; rootPath: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return undefined;
  return { origin: `${parsed.protocol}//${parsed.host}`, rootPath: parsed.pathname.replace(/\/+$/, "") };
}
