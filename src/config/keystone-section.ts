import type { OptionReader } from "./options.js";
import type { DomainRef, KeystoneConfig, KeystoneCredentials, UserRef } from "./types.js";

/** The service's own Keystone user, `[watcher_clients_auth]`; `why` says what needs it. */
export function readKeystone(r: OptionReader, why: string): KeystoneConfig {
  const a = "watcher_clients_auth";
  const authUrl = r.required(a, "auth_url", why) ?? "";
  if (authUrl !== "" && (!/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(authUrl) || !URL.canParse(authUrl))) {
    r.reject(a, "auth_url", "must be an http or https URL");
  }
  const authType = r.isSet(a, "auth_type")
    ? r.string(a, "auth_type")
    : r.required(a, "auth_type", `${why} (password, v3password or v3applicationcredential)`);
  const insecure = r.boolean(a, "insecure");
  const clientCert = r.keyPair(a, "certfile", "keyfile");
  return {
    authUrl: authUrl.replace(/\/+$/, ""),
    credentials: authType === "v3applicationcredential" ? readAppCredential(r) : readPassword(r),
    tls: {
      ca: r.file(a, "cafile"),
      cert: clientCert?.cert,
      key: clientCert?.key,
      rejectUnauthorized: !insecure,
    },
    timeoutMs: r.positiveSeconds(a, "timeout"),
  };
}

function readUser(r: OptionReader, why: string): UserRef | undefined {
  const a = "watcher_clients_auth";
  const id = r.string(a, "user_id");
  if (id !== undefined) return { id };
  const name = r.string(a, "username");
  if (name === undefined) {
    r.problems.push(`[${a}] user_id or username: required ${why}`);
    return undefined;
  }
  const domain = readDomain(r, "user_domain_id", "user_domain_name");
  if (!domain) {
    r.problems.push(
      `[${a}] user_domain_id or user_domain_name: required with username (names are unique only within a domain)`,
    );
    return undefined;
  }
  return { name, domain };
}

function readDomain(r: OptionReader, idOption: string, nameOption: string): DomainRef | undefined {
  const id = r.string("watcher_clients_auth", idOption);
  if (id !== undefined) return { id };
  const name = r.string("watcher_clients_auth", nameOption);
  return name === undefined ? undefined : { name };
}

function readPassword(r: OptionReader): KeystoneCredentials {
  const a = "watcher_clients_auth";
  const user = readUser(r, "for password authentication");
  const password = r.required(a, "password", "for password authentication") ?? "";
  const projectId = r.string(a, "project_id");
  const projectName = r.string(a, "project_name");
  const domain = readDomain(r, "project_domain_id", "project_domain_name");
  let project: { id: string } | { name: string; domain: DomainRef } = { id: projectId ?? "" };
  if (projectId === undefined && projectName !== undefined && domain) {
    project = { name: projectName, domain };
  } else if (projectId === undefined && projectName !== undefined) {
    r.problems.push(`[${a}] project_domain_id or project_domain_name: required with project_name`);
  } else if (projectId === undefined) {
    r.problems.push(
      `[${a}] project_id or project_name: required, a token needs a project scope to carry a catalog`,
    );
  }
  return { method: "password", user: user ?? { id: "" }, password, project };
}

function readAppCredential(r: OptionReader): KeystoneCredentials {
  const a = "watcher_clients_auth";
  const secret = r.required(a, "application_credential_secret", "for v3applicationcredential") ?? "";
  const id = r.string(a, "application_credential_id");
  if (id !== undefined) return { method: "application_credential", secret, credential: { id } };
  const name = r.string(a, "application_credential_name");
  if (name === undefined) {
    r.problems.push(
      `[${a}] application_credential_id or application_credential_name: required for v3applicationcredential`,
    );
    return { method: "application_credential", secret, credential: { id: "" } };
  }
  const user = readUser(r, "with application_credential_name") ?? { id: "" };
  return { method: "application_credential", secret, credential: { name, user } };
}
