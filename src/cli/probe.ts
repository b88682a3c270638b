import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { formatHostPort, type HostPort } from "./address.js";

export interface ProbeTarget {
  readonly address: HostPort;
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
  const where = formatHostPort(target.address);
  const baseUrl = `${target.tls ? "https" : "http"}://${where}`;
  const session = new Http2SessionManager(baseUrl, {}, target.tls ? { rejectUnauthorized: false } : {});
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

function failureOf(err: unknown, timeoutMs: number): string {
  const connectError = ConnectError.from(err);
  if (connectError.code === Code.DeadlineExceeded || connectError.code === Code.Canceled) {
    return `no answer to the gRPC health check within ${timeoutMs} ms`;
  }
  return `the gRPC health check failed: ${Code[connectError.code]}: ${connectError.rawMessage}`;
}
