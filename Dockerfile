# metrics-access: the gRPC service on Node 24 with its production dependencies only, as a non-root
# user, fit for a read-only root filesystem (it writes nothing; logs are JSON lines on stdout).
#   docker build -t metrics-access .
#   podman build --format docker -t metrics-access .   (podman's default OCI format drops HEALTHCHECK)
# How to run and configure it, and how the test suite builds it: docs/container.md.

# The compiled service: every dependency, TypeScript included, then `tsc`.
FROM node:24-slim AS build
WORKDIR /app
# The registry `npm ci` uses, when the builder's is not npm's default (the test suite passes its own).
ARG NPM_CONFIG_REGISTRY
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build

# The runtime's node_modules: the production dependencies alone, from the same lock file.
FROM node:24-slim AS deps
WORKDIR /app
ARG NPM_CONFIG_REGISTRY
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev

FROM node:24-slim
# Kept equal to package.json's version (the container test checks).
ARG VERSION=0.2.0
LABEL org.opencontainers.image.title="metrics-access" \
      org.opencontainers.image.description="gRPC door to cloud metrics in Prometheus, directly or through OpenStack Aetos, with Watcher-parity queries" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# The admin port (GET /healthz, /readyz, /metrics) is for probes and scrapes from outside the
# container, so it listens on every interface; the gRPC port keeps the service's loopback default
# (a sidecar's neighbours reach it). To publish it, set METRICS_ACCESS__METRICS_ACCESS__LISTEN=0.0.0.0:50051
# and, as long as callers are not authenticated, METRICS_ACCESS__METRICS_ACCESS__ALLOW_UNAUTHENTICATED_NETWORK=true.
# --max-semi-space-size=2: V8's young generation capped at 2 MB a semi-space. Under 64 concurrent
# callers the service then peaks about 20 MB lower, at the same CPU (docs/benchmarks.md); V8 reads
# heap sizes only at start, so the image sets the flag, not the service.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=2 \
    METRICS_ACCESS__METRICS_ACCESS__ADMIN_LISTEN=0.0.0.0:9464
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
COPY LICENSE ./
# The base image's user node, by number, so that runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 50051 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "/app/dist/main.js", "probe"]
# Node is PID 1 and handles SIGTERM itself (drains calls in flight, exits 0); no init is needed.
ENTRYPOINT ["node", "/app/dist/main.js"]
