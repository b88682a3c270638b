import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { CallOptions } from "../datasource/datasource.js";
import { invalidArgument } from "../errors.js";
import type {
  BatchQuerySchema,
  GetHostMetricsRequest,
  GetInstanceMetricsRequest,
  MetricDescriptorSchema,
  MetricValueSchema,
} from "../gen/metricsaccess/v1/metrics_pb.js";
import {
  Availability,
  ItemStatus,
  MetricOrigin,
  type MetricsService as MetricsServiceDesc,
  QueryForm,
  Subject,
  TargetHealth,
} from "../gen/metricsaccess/v1/metrics_pb.js";
import type { QueryForm as DomainQueryForm } from "../metrics/batch.js";
import type { MetricOrigin as DomainOrigin, Subject as DomainSubject } from "../metrics/catalogue.js";
import type {
  BatchAnswer,
  ItemStatus as DomainItemStatus,
  MetricAnswer,
  MetricStatus,
  MetricsService,
} from "../metrics/service.js";
import { CALLER } from "./caller-auth.js";
import * as valid from "./request-validation.js";

const HEALTH: Readonly<Record<string, TargetHealth>> = {
  up: TargetHealth.UP,
  down: TargetHealth.DOWN,
  unknown: TargetHealth.UNKNOWN,
};

const SUBJECTS: Record<DomainSubject, Subject> = { host: Subject.HOST, instance: Subject.INSTANCE };

const ORIGINS: Record<DomainOrigin, MetricOrigin> = {
  built_in: MetricOrigin.BUILT_IN,
  overridden: MetricOrigin.OVERRIDDEN,
  configured: MetricOrigin.CONFIGURED,
};

export interface MetricsHandlerOptions {
  /** Send each caller's validated token upstream instead of the service's (Aetos pass-through). */
  readonly forwardCallerToken: boolean;
}

/**
 * The gRPC face of the metrics service: validate fields (errors name them), call the use case with
 * the caller's abort signal, deadline and (when forwarded) token, shape the answer.
 */
export function metricsHandler(
  service: MetricsService,
  handlerOptions: MetricsHandlerOptions = { forwardCallerToken: false },
): ServiceImpl<typeof MetricsServiceDesc> {
  const callOptions = (ctx: HandlerContext): CallOptions => {
    const timeoutMs = ctx.timeoutMs();
    return {
      signal: ctx.signal,
      deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
      callerToken: handlerOptions.forwardCallerToken ? ctx.values.get(CALLER)?.token : undefined,
    };
  };
  /** The answer's values with the project the backend confined them to, if any. */
  const valuesOf = async (options: CallOptions) => {
    const projectScope = (await service.projectScope(options)) ?? "";
    return (answer: MetricAnswer) => metricValue(answer, projectScope);
  };
  return {
    async getHostMetric(req, ctx) {
      const host = valid.requiredName("host", req.host);
      const metric = valid.metricName(req.metric);
      const periodSeconds = valid.period(req.period);
      const aggregate = valid.aggregate(req.aggregate);
      valid.granularity(req.granularity);
      const options = callOptions(ctx);
      const answer = await service.hostMetric({ host, metric, periodSeconds, aggregate }, options);
      return { result: (await valuesOf(options))(answer) };
    },

    async getInstanceMetric(req, ctx) {
      const instanceId = valid.requiredName("instance_id", req.instanceId);
      const metric = valid.metricName(req.metric);
      const periodSeconds = valid.period(req.period);
      const aggregate = valid.aggregate(req.aggregate);
      valid.granularity(req.granularity);
      const options = callOptions(ctx);
      const answer = await service.instanceMetric(
        { instanceId, metric, periodSeconds, aggregate, vcpus: req.vcpus },
        options,
      );
      return { result: (await valuesOf(options))(answer) };
    },

    async listHosts(req, ctx) {
      const size = valid.pageSize(req.pageSize);
      const after = valid.decodePageToken(req.pageToken);
      const page = await service.listHosts(size, after, callOptions(ctx));
      return {
        hosts: page.hosts.map((h) => ({
          labelValue: h.labelValue,
          shortName: h.shortName,
          targets: h.targets.map((t) => ({
            job: t.job,
            instance: t.instance,
            health: HEALTH[t.health] ?? TargetHealth.UNSPECIFIED,
          })),
        })),
        nextPageToken: valid.encodePageToken(page.nextAfter),
      };
    },

    async getHostMetrics(req, ctx) {
      if (req.allHosts && req.hosts.length > 0) {
        throw invalidArgument("hosts", "must be empty when all_hosts is set");
      }
      const hosts = req.allHosts ? "all" : req.hosts.map((h, i) => valid.requiredName(`hosts[${i}]`, h));
      const options = callOptions(ctx);
      const answer = await service.hostMetrics({ hosts, ...batchAsk(req) }, options);
      const value = await valuesOf(options);
      return {
        items: answer.items.map((i) => ({
          host: i.resource,
          status: ITEM_STATUSES[i.status],
          ...(i.answer && { result: value(i.answer) }),
          message: i.message ?? "",
        })),
        queries: answer.queries.map(batchQuery),
      };
    },

    async getInstanceMetrics(req, ctx) {
      const instances = req.instances.map((ref, i) => ({
        instanceId: valid.requiredName(`instances[${i}].instance_id`, ref.instanceId),
        vcpus: ref.vcpus,
      }));
      const options = callOptions(ctx);
      const answer = await service.instanceMetrics({ instances, ...batchAsk(req) }, options);
      const value = await valuesOf(options);
      return {
        items: answer.items.map((i) => ({
          instanceId: i.resource,
          status: ITEM_STATUSES[i.status],
          ...(i.answer && { result: value(i.answer) }),
        })),
        queries: answer.queries.map(batchQuery),
      };
    },

    async listMetrics(req, ctx) {
      const subject = valid.subjectFilter(req.subject);
      const statuses = await service.listMetrics(subject, callOptions(ctx));
      return { metrics: statuses.map(metricDescriptor) };
    },
  };
}

const ITEM_STATUSES: Record<DomainItemStatus, ItemStatus> = {
  ok: ItemStatus.OK,
  no_data: ItemStatus.NO_DATA,
  host_not_found: ItemStatus.HOST_NOT_FOUND,
  host_ambiguous: ItemStatus.HOST_AMBIGUOUS,
};

const QUERY_FORMS: Record<DomainQueryForm, QueryForm> = {
  alternation: QueryForm.ALTERNATION,
  alternation_chunk: QueryForm.ALTERNATION_CHUNK,
  unfiltered: QueryForm.UNFILTERED,
};

/** What every batch asks besides its resources: the metrics, the window and the aggregate. */
function batchAsk(req: GetHostMetricsRequest | GetInstanceMetricsRequest) {
  valid.granularity(req.granularity);
  return {
    metrics: valid.metricNames(req.metrics),
    periodSeconds: valid.period(req.period),
    aggregate: valid.aggregate(req.aggregate),
  };
}

function batchQuery(q: BatchAnswer["queries"][number]): MessageInitShape<typeof BatchQuerySchema> {
  return { metric: q.metric, form: QUERY_FORMS[q.form], query: q.query, resourceCount: q.resourceCount };
}

/** The one shape of a value, shared by every answer that carries one. */
function metricValue(answer: MetricAnswer, projectScope: string): MessageInitShape<typeof MetricValueSchema> {
  return {
    projectScope,
    metric: answer.metric,
    ...(answer.value !== undefined && { value: answer.value }),
    unit: answer.unit,
    labelName: answer.labelName,
    labelValue: answer.labelValue,
    evaluationTime: timestampFromMs(answer.evaluationTime),
    query: answer.query,
    seriesCount: answer.seriesCount,
  };
}

function metricDescriptor(status: MetricStatus): MessageInitShape<typeof MetricDescriptorSchema> {
  const d = status.definition;
  return {
    name: d.name,
    subject: SUBJECTS[d.subject],
    unit: d.unit,
    description: d.description,
    template: d.template,
    labelName: status.labelName,
    series: [...d.series],
    origin: ORIGINS[d.origin],
    invertsMinMax: d.invertMinMax,
    availability: availabilityOf(status.missingSeries),
    missingSeries: [...(status.missingSeries ?? [])],
    configSection: `metric.${d.name}`,
  };
}

function availabilityOf(missing: readonly string[] | undefined): Availability {
  if (missing === undefined) return Availability.UNKNOWN;
  return missing.length === 0 ? Availability.AVAILABLE : Availability.SERIES_ABSENT;
}
