import { describe, expect, it } from "vitest";
import { refusal } from "../../test/support/refusal.js";
import { certificateAuthenticator } from "./certificate-auth.js";
import type { Peer } from "./peer.js";

const signal = new AbortController().signal;
const header = new Headers();

function peer(certificate: Peer["certificate"]): Peer {
  return { address: "10.0.0.5", tls: true, certificate };
}

const ENGINE: Peer["certificate"] = {
  authorized: true,
  authorizationError: undefined,
  subjects: ["CN=engine", "URI:spiffe://example.org/ns/watcher/sa/engine"],
};

describe("certificateAuthenticator", () => {
  it("admits any certificate the CA signed when no subjects are listed", async () => {
    const caller = await certificateAuthenticator([]).authenticate(peer(ENGINE), header, signal);
    expect(caller).toEqual({ method: "mtls", name: "CN=engine", token: undefined });
  });

  it("admits a listed SPIFFE ID", async () => {
    const auth = certificateAuthenticator(["URI:spiffe://example.org/ns/watcher/sa/engine"]);
    await expect(auth.authenticate(peer(ENGINE), header, signal)).resolves.toMatchObject({ method: "mtls" });
  });

  it("refuses a signed certificate whose subjects are not listed: PERMISSION_DENIED naming them", async () => {
    const err = await refusal(
      certificateAuthenticator(["CN=other"]).authenticate(peer(ENGINE), header, signal),
    );
    expect(err).toMatchObject({ code: "permission_denied", reason: "CALLER_NOT_ALLOWED" });
    expect(err.message).toBe(
      "client certificate (CN=engine, URI:spiffe://example.org/ns/watcher/sa/engine) is not among the subjects this service admits ([metrics_access] tls_client_allowed_subjects)",
    );
  });

  it("refuses a connection without a certificate: UNAUTHENTICATED, CALLER_CREDENTIALS_MISSING", async () => {
    const err = await refusal(certificateAuthenticator([]).authenticate(peer(undefined), header, signal));
    expect(err).toMatchObject({ code: "unauthenticated", reason: "CALLER_CREDENTIALS_MISSING" });
  });

  it("refuses a certificate the CA did not sign, with OpenSSL's reason", async () => {
    const untrusted = { ...ENGINE, authorized: false, authorizationError: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" };
    const err = await refusal(certificateAuthenticator([]).authenticate(peer(untrusted), header, signal));
    expect(err).toMatchObject({ code: "unauthenticated", reason: "CALLER_CREDENTIALS_INVALID" });
    expect(err.message).toBe("client certificate not accepted (UNABLE_TO_VERIFY_LEAF_SIGNATURE)");
  });
});
