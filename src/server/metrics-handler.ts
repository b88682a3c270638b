import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MetricsService as MetricsServiceDesc } from "../gen/metricsaccess/v1/metrics_pb.js";
import type { MetricAnswer, MetricsService } from "../metrics/service.js";
import * as valid from "./request-validation.js";

/**
 * The gRPC face of the metrics service: validate fields (errors name them), map enums to Watcher's
 * names, call the use case with the caller's abort signal, shape the answer.
 */
export function metricsHandler(service: MetricsService): ServiceImpl<typeof MetricsServiceDesc> {
  return {
    async getHostMetric(req, ctx) {
      const host = valid.requiredName("host", req.host);
      const metric = valid.hostMetric(req.metric);
      const periodSeconds = valid.period(req.period);
      const aggregate = valid.aggregate(req.aggregate);
      valid.granularity(req.granularity);
      const answer = await service.hostMetric(
        { host, metric, periodSeconds, aggregate },
        { signal: ctx.signal },
      );
      return { ...shape(answer), hostLabelValue: answer.labelValue };
    },

    async getInstanceMetric(req, ctx) {
      const instanceId = valid.requiredName("instance_id", req.instanceId);
      const metric = valid.instanceMetric(req.metric);
      const periodSeconds = valid.period(req.period);
      const aggregate = valid.aggregate(req.aggregate);
      valid.granularity(req.granularity);
      const answer = await service.instanceMetric(
        { instanceId, metric, periodSeconds, aggregate, vcpus: req.vcpus },
        { signal: ctx.signal },
      );
      return { ...shape(answer), instanceLabelValue: answer.labelValue };
    },

    async listHosts(req, ctx) {
      const size = valid.pageSize(req.pageSize);
      const after = valid.decodePageToken(req.pageToken);
      const page = await service.listHosts(size, after, { signal: ctx.signal });
      return {
        hosts: page.hosts.map((h) => ({
          labelValue: h.labelValue,
          shortName: h.shortName,
          targets: h.targets.map((t) => ({ job: t.job, instance: t.instance, health: t.health })),
        })),
        nextPageToken: valid.encodePageToken(page.nextAfter),
      };
    },
  };
}

function shape(answer: MetricAnswer) {
  return {
    ...(answer.value !== undefined && { value: answer.value }),
    unit: valid.UNITS[answer.unit],
    evaluationTime: timestampFromMs(answer.evaluationTime),
    query: answer.query,
    seriesCount: answer.seriesCount,
  };
}
