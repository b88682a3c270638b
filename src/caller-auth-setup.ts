import { KeystoneClient, namingCredentials } from "./clients/keystone.js";
import { TokenSource } from "./clients/token-source.js";
import { KeystoneTokenValidator } from "./clients/token-validator.js";
import type { UpstreamObserver } from "./clients/upstream-observer.js";
import type { CallerAuth } from "./config/types.js";
import { PRIVILEGED_ROLES } from "./datasource/aetos.js";
import type { Logger } from "./log.js";
import type { CallerAuthenticator } from "./server/caller-auth.js";
import { certificateAuthenticator } from "./server/certificate-auth.js";
import { tokenAuthenticator } from "./server/token-auth.js";

export interface CallerAuthSetup {
  /** Undefined with caller_auth = none: calls are not authenticated. */
  readonly authenticator: CallerAuthenticator | undefined;
  close(): Promise<void>;
}

/**
 * The caller authentication `[metrics_access] caller_auth` chose. For keystone, the service's own
 * user ([watcher_clients_auth]) gets a token at once, so that wrong credentials end the start-up
 * (naming the user, never the password) rather than fail every call.
 */
export async function setUpCallerAuth(
  auth: CallerAuth,
  forwardCallerToken: boolean,
  logger: Logger,
  observe: UpstreamObserver | undefined,
): Promise<CallerAuthSetup> {
  if (auth.kind === "none") return { authenticator: undefined, close: async () => {} };
  if (auth.kind === "mtls") {
    logger.info(
      { allowedSubjects: auth.allowedSubjects.length === 0 ? "any" : auth.allowedSubjects },
      "callers authenticated by client certificate (caller_auth = mtls)",
    );
    return { authenticator: certificateAuthenticator(auth.allowedSubjects), close: async () => {} };
  }
  const keystone = new KeystoneClient(auth.keystone, observe);
  const tokens = new TokenSource(() => keystone.issueToken(), {
    onRenewalFailure: (err, token) =>
      logger.warn(
        { err, expiresAt: new Date(token.expiresAt).toISOString() },
        "keystone token (for validating callers) renewal failed: using the current token until it expires",
      ),
  });
  try {
    await tokens.token();
  } catch (err) {
    await keystone.close();
    throw namingCredentials(err, auth.keystone.credentials);
  }
  const unprivileged = auth.roles.filter((role) => !PRIVILEGED_ROLES.has(role));
  if (!forwardCallerToken && unprivileged.length > 0) {
    logger.warn(
      { roles: unprivileged },
      "caller_roles admits roles other than admin and service while callers' tokens are not forwarded: such callers read every project's metrics with the service's own credentials; set [aetos_client] forward_caller_token = true or keep caller_roles to admin, service",
    );
  }
  logger.info(
    { roles: auth.roles, cacheTimeS: auth.cacheTimeMs / 1000, forwardCallerToken },
    "callers authenticated by Keystone token (caller_auth = keystone)",
  );
  return {
    authenticator: tokenAuthenticator({
      validator: new KeystoneTokenValidator(keystone, tokens),
      roles: auth.roles,
      cacheTimeMs: auth.cacheTimeMs,
      cacheSize: auth.cacheSize,
    }),
    close: () => keystone.close(),
  };
}
