import { type CallerAuthenticator, notAllowed, unauthenticated } from "./caller-auth.js";

/**
 * caller_auth = mtls: the TLS handshake asked for a client certificate and judged it against
 * tls_client_cafile without refusing the connection (so that health checks need none); here a call
 * to MetricsService is admitted only with a certificate the CA signed and, when the operator listed
 * subjects, one of them (CN=…, DNS:… or URI:…, the last for SPIFFE IDs).
 */
export function certificateAuthenticator(allowedSubjects: readonly string[]): CallerAuthenticator {
  const allowed = new Set(allowedSubjects);
  return {
    async authenticate(peer) {
      const certificate = peer?.certificate;
      if (certificate === undefined) {
        throw unauthenticated(
          "a client certificate is required: this service admits callers by mutual TLS (caller_auth = mtls)",
          "CALLER_CREDENTIALS_MISSING",
        );
      }
      if (!certificate.authorized) {
        throw unauthenticated(
          `client certificate not accepted (${certificate.authorizationError ?? "not signed by the service's client CA"})`,
          "CALLER_CREDENTIALS_INVALID",
        );
      }
      const subjects = certificate.subjects;
      if (allowed.size > 0 && !subjects.some((subject) => allowed.has(subject))) {
        const named = subjects.length === 0 ? "no CN, DNS or URI name" : subjects.join(", ");
        throw notAllowed(
          `client certificate (${named}) is not among the subjects this service admits ([metrics_access] tls_client_allowed_subjects)`,
        );
      }
      return { method: "mtls", name: subjects[0], token: undefined };
    },
  };
}
