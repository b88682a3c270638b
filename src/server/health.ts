import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../gen/grpc/health/v1/health_pb.js";

/**
 * A status the server may set for a service. SERVICE_UNKNOWN is left out: the protocol reserves it
 * for Watch on a service that has no status.
 */
export type ServingStatus = Exclude<
  HealthCheckResponse_ServingStatus,
  HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN
>;

/**
 * The serving status of each service, as grpc.health.v1 reports it. The empty name "" stands for the
 * whole server and starts as SERVING; other services are unknown until `setStatus` names them.
 */
export class HealthRegistry {
  readonly #statuses = new Map<string, ServingStatus>([["", HealthCheckResponse_ServingStatus.SERVING]]);
  #shutDown = false;
  #wakeWatchers: () => void = () => {};
  // Replaced at every change. A watcher takes it before reading a status, so a change made while the
  // watcher is still sending the previous one wakes it all the same.
  #changed = this.#nextChange();

  /** Sets the status of `service` ("" for the whole server). Ignored once `shutdown` has run. */
  setStatus(service: string, status: ServingStatus): void {
    if (this.#shutDown || this.#statuses.get(service) === status) {
      return;
    }
    this.#statuses.set(service, status);
    this.#notify();
  }

  /**
   * Marks every service NOT_SERVING for good, so that probes and load balancers drain traffic, and
   * ends the `watch` iterations once they have yielded that status.
   */
  shutdown(): void {
    this.#shutDown = true;
    for (const service of this.#statuses.keys()) {
      this.#statuses.set(service, HealthCheckResponse_ServingStatus.NOT_SERVING);
    }
    this.#notify();
  }

  /** The status of `service`, or undefined if it has none. */
  status(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** A snapshot of every service and its status. */
  entries(): [string, ServingStatus][] {
    return [...this.#statuses];
  }

  /**
   * Yields the status of `service` now and then at every change, SERVICE_UNKNOWN while it has none.
   * Changes that come faster than the consumer reads collapse into the latest. Ends when `signal`
   * aborts, or after yielding the NOT_SERVING that `shutdown` sets: no status can change after that,
   * and the protocol tells clients to retry a Watch that ends with OK, so ending lets the server drain.
   */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<HealthCheckResponse_ServingStatus> {
    const aborted = new Promise<void>((resolve) => {
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
    let sent: HealthCheckResponse_ServingStatus | undefined;
    while (!signal.aborted) {
      const changed = this.#changed;
      const status = this.#statuses.get(service) ?? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
      if (status !== sent) {
        sent = status;
        yield status;
      }
      if (this.#shutDown) {
        return;
      }
      await Promise.race([changed, aborted]);
    }
  }

  #nextChange(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wakeWatchers = resolve;
    });
  }

  #notify(): void {
    const wake = this.#wakeWatchers;
    this.#changed = this.#nextChange();
    wake();
  }
}

/**
 * The grpc.health.v1.Health implementation over `registry`; mount it with
 * `router.service(Health, healthService(registry))`.
 */
export function healthService(registry: HealthRegistry): ServiceImpl<typeof Health> {
  return {
    check(request) {
      const status = registry.status(request.service);
      if (status === undefined) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      return { status };
    },

    list() {
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const [service, status] of registry.entries()) {
        statuses[service] = create(HealthCheckResponseSchema, { status });
      }
      return { statuses };
    },

    async *watch(request, context) {
      for await (const status of registry.watch(request.service, context.signal)) {
        yield { status };
      }
    },
  };
}
