import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
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

/**
 * The gRPC face of the metrics service: validate fields (errors name them), call the use case with
 * the caller's abort signal, shape the answer.
 */
export function metricsHandler(service: MetricsService): ServiceImpl<typeof MetricsServiceDesc> {
  return {
    async getHostMetric(req, ctx) {
      const host = valid.requiredName("host", req.host);
      const metric = valid.metricName(req.metric);
      const periodSeconds = valid.period(req.period);
      const aggregate = valid.aggregate(req.aggregate);
      valid.granularity(req.granularity);
      const answer = await service.hostMetric(
        { host, metric, periodSeconds, aggregate },
        { signal: ctx.signal },
      );
      return { result: metricValue(answer) };
    },

    async getInstanceMetric(req, ctx) {
      const instanceId = valid.requiredName("instance_id", req.instanceId);
      const metric = valid.metricName(req.metric);
      const periodSeconds = valid.period(req.period);
      const aggregate = valid.aggregate(req.aggregate);
      valid.granularity(req.granularity);
      const answer = await service.instanceMetric(
        { instanceId, metric, periodSeconds, aggregate, vcpus: req.vcpus },
        { signal: ctx.signal },
      );
      return { result: metricValue(answer) };
    },

    async listHosts(req, ctx) {
      const size = valid.pageSize(req.pageSize);
      const after = valid.decodePageToken(req.pageToken);
      const page = await service.listHosts(size, after, { signal: ctx.signal });
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
      const answer = await service.hostMetrics({ hosts, ...batchAsk(req) }, { signal: ctx.signal });
      return {
        items: answer.items.map((i) => ({
          host: i.resource,
          status: ITEM_STATUSES[i.status],
          ...(i.answer && { result: metricValue(i.answer) }),
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
      const answer = await service.instanceMetrics({ instances, ...batchAsk(req) }, { signal: ctx.signal });
      return {
        items: answer.items.map((i) => ({
          instanceId: i.resource,
          status: ITEM_STATUSES[i.status],
          ...(i.answer && { result: metricValue(i.answer) }),
        })),
        queries: answer.queries.map(batchQuery),
      };
    },

    async listMetrics(req, ctx) {
      const subject = valid.subjectFilter(req.subject);
      const statuses = await service.listMetrics(subject, { signal: ctx.signal });
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
function metricValue(answer: MetricAnswer): MessageInitShape<typeof MetricValueSchema> {
  return {
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
