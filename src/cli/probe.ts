import type { SecureClientSessionOptions } from "node:http2";
import { connect as connectUnix } from "node:net";
import { connect as connectTls } from "node:tls";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { formatListenAddress } from "../config/listen-address.js";
import type { ListenAddress } from "../config/types.js";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";

export interface ProbeTarget {
  /** host:port, or a unix socket. */
  readonly address: ListenAddress;
  readonly tls: boolean;
  /** For the whole check: connecting, the TLS handshake and the answer. */
  readonly timeoutMs: number;
}

export interface ProbeOutcome {
  readonly serving: boolean;
  /** One short line for the operator (docker inspect shows it). */
  readonly line: string;
}

/**
 * grpc.health.v1.Health/Check for the whole server (service ""), over HTTP/2: h2c, or TLS when the
 * server is configured with it. The certificate is not verified: the probe dials the server it
 * runs beside, by an address (127.0.0.1) the certificate usually does not name, and sends nothing
 * but the health request, so there is nothing an impostor could learn; what it proves is that the
 * server answers and says SERVING.
 */
export async function probeHealth(target: ProbeTarget): Promise<ProbeOutcome> {
  const where = formatListenAddress(target.address);
  const { baseUrl, options } = dialling(target);
  const session = new Http2SessionManager(baseUrl, {}, options);
  const client = createClient(Health, createGrpcTransport({ baseUrl, sessionManager: session }));
  const started = performance.now();
  const deadline = AbortSignal.timeout(target.timeoutMs);
  try {
    const answer = await client.check({ service: "" }, { signal: deadline, timeoutMs: target.timeoutMs });
    const status = HealthCheckResponse_ServingStatus[answer.status] ?? String(answer.status);
    const took = Math.round(performance.now() - started);
    const serving = answer.status === HealthCheckResponse_ServingStatus.SERVING;
    return { serving, line: `${status}: ${where} answered the gRPC health check in ${took} ms` };
  } catch (err) {
    return { serving: false, line: `${where}: ${failureOf(err, target.timeoutMs)}` };
  } finally {
    // Without this the idle HTTP/2 session would keep the process alive for minutes.
    session.abort();
  }
}

/**
 * The URL and the HTTP/2 session options for the target. Over a unix socket the URL's authority
 * is only the :authority header ("localhost", as grpc-js sends for unix: targets), and the
 * connection is made to the path, TLS on top when the server speaks it.
 */
function dialling(target: ProbeTarget): { baseUrl: string; options: SecureClientSessionOptions } {
  const scheme = target.tls ? "https" : "http";
  const tls = target.tls ? { rejectUnauthorized: false } : {};
  const address = target.address;
  if (address.kind === "tcp") return { baseUrl: `${scheme}://${formatListenAddress(address)}`, options: tls };
  const path = address.path;
  return {
    baseUrl: `${scheme}://localhost`,
    options: {
      ...tls,
      createConnection: () =>
        target.tls
          ? connectTls({ path, rejectUnauthorized: false, ALPNProtocols: ["h2"] })
          : connectUnix(path),
    },
  };
}

function failureOf(err: unknown, timeoutMs: number): string {
  const connectError = ConnectError.from(err);
  if (connectError.code === Code.DeadlineExceeded || connectError.code === Code.Canceled) {
    return `no answer to the gRPC health check within ${timeoutMs} ms`;
  }
  return `the gRPC health check failed: ${Code[codeOf(connectError)]}: ${connectError.rawMessage}`;
}

/**
 * connect-node calls only some failures to connect Unavailable (ECONNREFUSED, ENOTFOUND, …) and
 * the rest Internal; a socket file that is missing (ENOENT) or closed to this user (EACCES) is as
 * much "nothing answers there", and is said so.
 */
function codeOf(err: ConnectError): Code {
  const cause: unknown = err.cause;
  const failedToConnect = cause instanceof Error && "syscall" in cause && cause.syscall === "connect";
  return err.code === Code.Internal && failedToConnect ? Code.Unavailable : err.code;
}
