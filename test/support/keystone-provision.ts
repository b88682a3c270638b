/**
 * The test identities and catalog, provisioned through Keystone's own REST API into a Keystone
 * from startKeystone (keystone.ts).
 *
 * Catalog without `metric-storage`: the catalog is global, so {@link provisionKeystone} creates a
 * project (`no-metric-storage`) whose catalog is restricted, with Keystone's endpoint filter
 * (OS-EP-FILTER), to the identity endpoints, and a user (`watcher-nocat`, role `service`) in it.
 * A token or application credential for that user shows a catalog without `metric-storage`, while
 * every other project keeps the full catalog, so tests can run side by side. For a test that needs
 * the metric-storage service to vanish for everybody, {@link Provisioning.setMetricStorageEnabled}
 * disables (and re-enables) the service, keeping its ids.
 */
import type { Keystone } from "./keystone.js";
import {
  applicationCredentialToken,
  asArray,
  asObject,
  asString,
  type IssuedToken,
  type Json,
  type KsRequest,
  ksRequest,
  type PasswordCredentials,
  passwordToken,
  revokeToken,
} from "./keystone-api.js";

export interface EndpointUrls {
  readonly public: string;
  readonly internal: string;
}

export interface ProvisionOptions {
  /** Where the catalog's `metric-storage` (name `aetos`) endpoints point, per region. */
  aetosUrls: { RegionOne: EndpointUrls; RegionTwo: EndpointUrls };
}

export interface ProvisionedUser extends Required<PasswordCredentials> {
  readonly id: string;
  readonly projectId: string;
}

export interface ApplicationCredential {
  readonly id: string;
  readonly secret: string;
  readonly name: string;
  readonly userId: string;
  readonly projectId: string;
}

export interface Provisioning {
  readonly keystoneUrl: string;
  readonly regionIds: readonly ["RegionOne", "RegionTwo"];
  readonly roleIds: {
    readonly admin: string;
    readonly member: string;
    readonly reader: string;
    readonly service: string;
  };
  readonly projects: {
    readonly admin: { readonly id: string; readonly name: string };
    readonly service: { readonly id: string; readonly name: string };
    readonly tenantA: { readonly id: string; readonly name: string };
    readonly tenantB: { readonly id: string; readonly name: string };
    /** Its catalog only holds the identity endpoints (OS-EP-FILTER). */
    readonly noMetricStorage: { readonly id: string; readonly name: string };
  };
  /** Role `service` in project `service` (what Watcher uses against Aetos). */
  readonly watcher: ProvisionedUser;
  /** Role `reader` (only) in project `tenant-a`. */
  readonly readerA: ProvisionedUser;
  /** Role `member` (only) in project `tenant-a`. */
  readonly memberA: ProvisionedUser;
  /** Role `member` (only) in project `tenant-b`. */
  readonly memberB: ProvisionedUser;
  /** Aetos's keystone_authtoken user: role `admin` in project `service`, as DevStack does. */
  readonly aetosService: ProvisionedUser;
  /** Role `service` in project `no-metric-storage`, whose catalog has no `metric-storage`. */
  readonly watcherNoCatalog: ProvisionedUser;
  /** Application credential `metrics-access` of `watcher` (project `service`, role `service`). */
  readonly appCredential: ApplicationCredential;
  readonly metricStorage: {
    readonly serviceId: string;
    readonly type: "metric-storage";
    readonly name: "aetos";
    /** Endpoint ids by region and interface. */
    readonly endpointIds: {
      readonly RegionOne: { readonly public: string; readonly internal: string };
      readonly RegionTwo: { readonly public: string; readonly internal: string };
    };
  };
  /** A project-scoped token (password auth) for any user. */
  token(user: PasswordCredentials): Promise<IssuedToken>;
  /** A token from {@link appCredential}. */
  appCredentialToken(): Promise<IssuedToken>;
  /** Revokes `token` with an admin token. */
  revokeToken(token: string): Promise<void>;
  /** Disables/enables the metric-storage service: while disabled it is absent from every catalog. */
  setMetricStorageEnabled(enabled: boolean): Promise<void>;
}

const WATCHER_PASSWORD = "watcher-secret-pw";
const READER_PASSWORD = "reader-a-secret-pw";
const AETOS_PASSWORD = "aetos-secret-pw";
const NOCAT_PASSWORD = "watcher-nocat-secret-pw";
const MEMBER_A_PASSWORD = "member-a-secret-pw";
const MEMBER_B_PASSWORD = "member-b-secret-pw";

/**
 * The Aetos service user {@link provisionKeystone} creates (role admin in project service, as
 * DevStack does). Known in advance so Aetos can be started while provisioning runs:
 * keystonemiddleware only authenticates at its first token validation.
 */
export const AETOS_SERVICE_USER: Required<PasswordCredentials> = {
  username: "aetos",
  password: AETOS_PASSWORD,
  projectName: "service",
  userDomainId: "default",
  projectDomainId: "default",
};

/** Provisions the test identities and catalog through Keystone's REST API (about 2–4 s). */
export async function provisionKeystone(
  keystone: Keystone,
  options: ProvisionOptions,
): Promise<Provisioning> {
  const url = keystone.url;
  const adminToken = await keystone.adminToken();
  const secrets = [
    keystone.admin.password,
    WATCHER_PASSWORD,
    READER_PASSWORD,
    AETOS_PASSWORD,
    NOCAT_PASSWORD,
    MEMBER_A_PASSWORD,
    MEMBER_B_PASSWORD,
  ];
  const call = async (
    method: KsRequest["method"],
    path: string,
    body: unknown,
    expect: readonly number[],
  ): Promise<Json> => {
    const req: KsRequest = { method, path, token: adminToken, expect, secrets };
    if (body !== undefined) req.body = body;
    const res = await ksRequest(url, req);
    return res.body === null ? {} : asObject(res.body, `${method} ${path}`);
  };
  const create = async (collection: string, key: string, entity: Json): Promise<string> => {
    const body = await call("POST", `/${collection}`, { [key]: entity }, [201]);
    return asString(asObject(body[key], key).id, `${key}.id`);
  };
  const findOne = async (collection: string, query: string): Promise<Json[]> => {
    const body = await call("GET", `/${collection}?${query}`, undefined, [200]);
    return asArray(body[collection], collection).map((x) => asObject(x, collection));
  };

  // 1. Independent entities, and look-ups of what bootstrap made.
  const [
    ,
    serviceRoleId,
    serviceProjectId,
    tenantAProjectId,
    tenantBProjectId,
    noCatProjectId,
    metricServiceId,
    roles,
    adminProjects,
    identityServices,
  ] = await Promise.all([
    create("regions", "region", { id: "RegionTwo", description: "second region for tests" }),
    create("roles", "role", { name: "service" }),
    create("projects", "project", { name: "service", domain_id: "default", description: "service users" }),
    create("projects", "project", { name: "tenant-a", domain_id: "default" }),
    create("projects", "project", { name: "tenant-b", domain_id: "default" }),
    create("projects", "project", { name: "no-metric-storage", domain_id: "default" }),
    create("services", "service", { type: "metric-storage", name: "aetos", enabled: true }),
    findOne("roles", ""),
    findOne("projects", "name=admin"),
    findOne("services", "type=identity"),
  ]);
  const roleId = (name: string): string => {
    const r = roles.find((x) => x.name === name);
    if (!r) throw new Error(`Keystone has no role ${name} after bootstrap`);
    return asString(r.id, `role ${name} id`);
  };
  const adminProjectId = asString(adminProjects[0]?.id, "admin project id");
  const identityServiceId = asString(identityServices[0]?.id, "identity service id");

  // 2. Users, endpoints, and the endpoint filter of the no-metric-storage project.
  const endpoint = (region: string, iface: string, endpointUrl: string) =>
    create("endpoints", "endpoint", {
      service_id: metricServiceId,
      interface: iface,
      region_id: region,
      url: endpointUrl,
      enabled: true,
    });
  const user = (name: string, password: string, projectId: string) =>
    create("users", "user", {
      name,
      password,
      domain_id: "default",
      default_project_id: projectId,
      enabled: true,
    });
  const [
    watcherId,
    readerId,
    aetosId,
    noCatUserId,
    memberAId,
    memberBId,
    r1Public,
    r1Internal,
    r2Public,
    r2Internal,
    identityEndpoints,
  ] = await Promise.all([
    user("watcher", WATCHER_PASSWORD, serviceProjectId),
    user("reader-a", READER_PASSWORD, tenantAProjectId),
    user(AETOS_SERVICE_USER.username, AETOS_SERVICE_USER.password, serviceProjectId),
    user("watcher-nocat", NOCAT_PASSWORD, noCatProjectId),
    user("member-a", MEMBER_A_PASSWORD, tenantAProjectId),
    user("member-b", MEMBER_B_PASSWORD, tenantBProjectId),
    endpoint("RegionOne", "public", options.aetosUrls.RegionOne.public),
    endpoint("RegionOne", "internal", options.aetosUrls.RegionOne.internal),
    endpoint("RegionTwo", "public", options.aetosUrls.RegionTwo.public),
    endpoint("RegionTwo", "internal", options.aetosUrls.RegionTwo.internal),
    findOne("endpoints", `service_id=${identityServiceId}`),
  ]);

  // 3. Role assignments and endpoint-filter associations (all PUTs, 204).
  const grant = (projectId: string, userId: string, role: string) =>
    call("PUT", `/projects/${projectId}/users/${userId}/roles/${role}`, undefined, [204]);
  await Promise.all([
    grant(serviceProjectId, watcherId, serviceRoleId),
    grant(tenantAProjectId, readerId, roleId("reader")),
    grant(serviceProjectId, aetosId, roleId("admin")),
    grant(noCatProjectId, noCatUserId, serviceRoleId),
    grant(tenantAProjectId, memberAId, roleId("member")),
    grant(tenantBProjectId, memberBId, roleId("member")),
    ...identityEndpoints.map((ep) =>
      call(
        "PUT",
        `/OS-EP-FILTER/projects/${noCatProjectId}/endpoints/${asString(ep.id, "identity endpoint id")}`,
        undefined,
        [204],
      ),
    ),
  ]);

  const mkUser = (
    id: string,
    username: string,
    password: string,
    projectId: string,
    projectName: string,
  ) => ({
    id,
    username,
    password,
    projectId,
    projectName,
    userDomainId: "default",
    projectDomainId: "default",
  });
  const watcher = mkUser(watcherId, "watcher", WATCHER_PASSWORD, serviceProjectId, "service");

  // 4. The application credential, created with watcher's own token.
  const watcherToken = await passwordToken(url, watcher);
  const appCredRes = await ksRequest(url, {
    method: "POST",
    path: `/users/${watcherId}/application_credentials`,
    token: watcherToken.token,
    body: {
      application_credential: { name: "metrics-access", description: "metrics-access integration tests" },
    },
    expect: [201],
    secrets,
  });
  const appCredBody = asObject(
    asObject(appCredRes.body, "app credential").application_credential,
    "app credential",
  );
  const appCredential: ApplicationCredential = {
    id: asString(appCredBody.id, "application_credential.id"),
    secret: asString(appCredBody.secret, "application_credential.secret"),
    name: asString(appCredBody.name, "application_credential.name"),
    userId: watcherId,
    projectId: serviceProjectId,
  };

  return {
    keystoneUrl: url,
    regionIds: ["RegionOne", "RegionTwo"],
    roleIds: {
      admin: roleId("admin"),
      member: roleId("member"),
      reader: roleId("reader"),
      service: serviceRoleId,
    },
    projects: {
      admin: { id: adminProjectId, name: "admin" },
      service: { id: serviceProjectId, name: "service" },
      tenantA: { id: tenantAProjectId, name: "tenant-a" },
      tenantB: { id: tenantBProjectId, name: "tenant-b" },
      noMetricStorage: { id: noCatProjectId, name: "no-metric-storage" },
    },
    watcher,
    readerA: mkUser(readerId, "reader-a", READER_PASSWORD, tenantAProjectId, "tenant-a"),
    memberA: mkUser(memberAId, "member-a", MEMBER_A_PASSWORD, tenantAProjectId, "tenant-a"),
    memberB: mkUser(memberBId, "member-b", MEMBER_B_PASSWORD, tenantBProjectId, "tenant-b"),
    aetosService: mkUser(aetosId, "aetos", AETOS_PASSWORD, serviceProjectId, "service"),
    watcherNoCatalog: mkUser(
      noCatUserId,
      "watcher-nocat",
      NOCAT_PASSWORD,
      noCatProjectId,
      "no-metric-storage",
    ),
    appCredential,
    metricStorage: {
      serviceId: metricServiceId,
      type: "metric-storage",
      name: "aetos",
      endpointIds: {
        RegionOne: { public: r1Public, internal: r1Internal },
        RegionTwo: { public: r2Public, internal: r2Internal },
      },
    },
    token: (u) => passwordToken(url, u),
    appCredentialToken: () => applicationCredentialToken(url, appCredential),
    revokeToken: async (token) => revokeToken(url, await keystone.adminToken(), token),
    setMetricStorageEnabled: async (enabled) => {
      await ksRequest(url, {
        method: "PATCH",
        path: `/services/${metricServiceId}`,
        token: await keystone.adminToken(),
        body: { service: { enabled } },
        expect: [200],
      });
    },
  };
}
