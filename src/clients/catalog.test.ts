import { describe, expect, it } from "vitest";
import { type CatalogService, describeCatalog, selectEndpoint, splitEndpointUrl } from "./catalog.js";

const catalog: CatalogService[] = [
  {
    type: "identity",
    name: "keystone",
    endpoints: [{ interface: "public", region_id: "RegionOne", url: "http://ks/v3" }],
  },
  {
    type: "metric-storage",
    name: "aetos",
    endpoints: [
      { interface: "internal", region_id: "RegionTwo", url: "http://two-internal/prometheus" },
      { interface: "public", region_id: "RegionOne", url: "" },
      { interface: "public", region_id: "RegionOne", url: "http://one-public/prometheus" },
      { interface: "internal", region_id: "RegionOne", url: "http://one-internal/prometheus" },
      { interface: "public", region: "Legacy", url: "http://legacy/prometheus" },
    ],
  },
];

describe("selectEndpoint (keystoneauth's rules)", () => {
  it("matches interface and region exactly", () => {
    const url = selectEndpoint(catalog, {
      serviceType: "metric-storage",
      interface: "internal",
      regionName: "RegionOne",
    });
    expect(url).toBe("http://one-internal/prometheus");
  });

  it("takes the first match in catalog order when no region is set", () => {
    const url = selectEndpoint(catalog, {
      serviceType: "metric-storage",
      interface: "internal",
      regionName: undefined,
    });
    expect(url).toBe("http://two-internal/prometheus");
  });

  it("skips endpoints with an empty url", () => {
    const url = selectEndpoint(catalog, {
      serviceType: "metric-storage",
      interface: "public",
      regionName: "RegionOne",
    });
    expect(url).toBe("http://one-public/prometheus");
  });

  it("falls back to the legacy region field", () => {
    const url = selectEndpoint(catalog, {
      serviceType: "metric-storage",
      interface: "public",
      regionName: "Legacy",
    });
    expect(url).toBe("http://legacy/prometheus");
  });

  it("compares regions case-sensitively and finds nothing for an unknown one", () => {
    expect(
      selectEndpoint(catalog, {
        serviceType: "metric-storage",
        interface: "public",
        regionName: "regionone",
      }),
    ).toBeUndefined();
    expect(
      selectEndpoint(catalog, { serviceType: "metric-storage", interface: "admin", regionName: undefined }),
    ).toBeUndefined();
  });

  it("matches the service type exactly", () => {
    expect(
      selectEndpoint(catalog, { serviceType: "metric", interface: "public", regionName: undefined }),
    ).toBeUndefined();
  });
});

describe("describeCatalog", () => {
  it("lists the service types when the wanted one is absent", () => {
    expect(describeCatalog([catalog[0] as CatalogService], "metric-storage")).toBe(
      "the catalog has no metric-storage service; it holds: identity",
    );
  });

  it("says when the catalog is empty", () => {
    expect(describeCatalog([], "metric-storage")).toBe("the catalog is empty");
  });

  it("lists the wanted service's endpoints by interface and region", () => {
    const text = describeCatalog(catalog, "metric-storage");
    expect(text).toContain("internal in RegionTwo");
    expect(text).toContain("public in RegionOne (empty url)");
    expect(text).toContain("public in Legacy");
  });
});

describe("splitEndpointUrl", () => {
  it("takes the path as the API root and drops the trailing slash", () => {
    expect(splitEndpointUrl("https://ctl:443/prometheus/")).toEqual({
      origin: "https://ctl",
      rootPath: "/prometheus",
    });
    expect(splitEndpointUrl("http://ctl:9090")).toEqual({ origin: "http://ctl:9090", rootPath: "" });
  });

  it("keeps IPv6 brackets and drops query, fragment and user-info", () => {
    expect(splitEndpointUrl("http://user:pw@[fd00::1]:8080/p?x=1#f")).toEqual({
      origin: "http://[fd00::1]:8080",
      rootPath: "/p",
    });
  });

  it("refuses what is not an http(s) URL", () => {
    expect(splitEndpointUrl("ftp://ctl/p")).toBeUndefined();
    expect(splitEndpointUrl("not a url")).toBeUndefined();
  });
});
