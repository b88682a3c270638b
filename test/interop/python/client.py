#!/usr/bin/python3
"""Calls metrics-access the way a Python decision engine would: Debian's grpcio, the stubs that
protoc + grpc_python_plugin generate from proto/metricsaccess/v1/metrics.proto, a timeout on every
call and an x-request-id in the metadata.

Usage: [METRICS_ACCESS_SERVICE_CONFIG=examples/service-config.json] client.py GEN_DIR HOST:PORT [REQUEST_ID]

Prints one JSON object per line, each with a "case" key:
  host_cpu          value of compute-1.example's host CPU usage (mean, 300 s)
  instance_ram      value of vm-a's RAM usage
  not_found         status code name and details of an unknown host, with the google.rpc.ErrorInfo
                    reason read from grpc-status-details-bin
  invalid_argument  the same for an empty host, with the google.rpc.BadRequest field
  unknown_metric    the same for an instance metric asked of GetHostMetric
  nan_vm            whether vm-d's RAM usage (NaN in Prometheus) has a value
  list_hosts        the health (TargetHealth name) of compute-1.example's first target
  host_batch        GetHostMetrics for compute-1.example, ghost.example and twin: each item's host,
                    status name and value, and the query forms
"""

import json
import os
import sys

TIMEOUT_S = 10.0
VM_A = "11111111-1111-4111-8111-111111111111"
VM_D = "44444444-4444-4444-8444-444444444444"


def emit(case, **fields):
    fields["case"] = case
    print(json.dumps(fields, sort_keys=True), flush=True)


def metadata_dict(pairs):
    return {key: value for key, value in (pairs or ())}


def main():
    gen_dir, target = sys.argv[1], sys.argv[2]
    request_id = sys.argv[3] if len(sys.argv) > 3 else "python-client"
    sys.path.insert(0, gen_dir)

    import grpc
    from google.protobuf import duration_pb2
    from google.rpc import error_details_pb2, status_pb2
    from metricsaccess.v1 import metrics_pb2, metrics_pb2_grpc

    def standard_details(trailers):
        """What Python's grpc_status.rpc_status.from_call does, without the grpcio-status package."""
        status = status_pb2.Status.FromString(trailers.get("grpc-status-details-bin", b""))
        found = {}
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                found["info_reason"], found["info_domain"] = info.reason, info.domain
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                found["violated_fields"] = [v.field for v in bad.field_violations]
        return found

    metadata = (("x-request-id", request_id),)
    # The retry policy the service publishes (examples/service-config.json): UNAVAILABLE is retried
    # with backoff; grpcio applies a service config's retry policy by default.
    options = []
    config_path = os.environ.get("METRICS_ACCESS_SERVICE_CONFIG")
    if config_path:
        with open(config_path, encoding="utf-8") as config:
            options.append(("grpc.service_config", config.read()))
    with grpc.insecure_channel(target, options=options) as channel:
        stub = metrics_pb2_grpc.MetricsServiceStub(channel)

        response, call = stub.GetHostMetric.with_call(
            metrics_pb2.GetHostMetricRequest(
                host="compute-1.example",
                metric="host_cpu_usage",
                period=duration_pb2.Duration(seconds=300),
                aggregate=metrics_pb2.AGGREGATE_MEAN,
            ),
            timeout=TIMEOUT_S,
            metadata=metadata,
        )
        result = response.result
        emit(
            "host_cpu",
            has_result=response.HasField("result"),
            metric=result.metric,
            has_value=result.HasField("value"),
            value=result.value,
            unit=result.unit,
            label_name=result.label_name,
            label_value=result.label_value,
            query=result.query,
            series_count=result.series_count,
            request_id=metadata_dict(call.initial_metadata()).get("x-request-id"),
        )

        response = stub.GetInstanceMetric(
            metrics_pb2.GetInstanceMetricRequest(
                instance_id=VM_A,
                metric="instance_ram_usage",
                period=duration_pb2.Duration(seconds=300),
            ),
            timeout=TIMEOUT_S,
            metadata=metadata,
        )
        result = response.result
        emit(
            "instance_ram",
            metric=result.metric,
            has_value=result.HasField("value"),
            value=result.value,
            unit=result.unit,
            label_name=result.label_name,
            label_value=result.label_value,
        )

        for case, host, metric in (
            ("not_found", "no-such-host.example", "host_cpu_usage"),
            ("invalid_argument", "", "host_cpu_usage"),
            ("unknown_metric", "compute-1.example", "instance_cpu_usage"),
        ):
            try:
                stub.GetHostMetric(
                    metrics_pb2.GetHostMetricRequest(host=host, metric=metric),
                    timeout=TIMEOUT_S,
                    metadata=metadata,
                )
                emit(case, code="OK", details="")
            except grpc.RpcError as err:
                trailers = metadata_dict(err.trailing_metadata())
                emit(
                    case,
                    code=err.code().name,
                    details=err.details(),
                    error_reason=trailers.get("x-error-reason"),
                    request_id=trailers.get("x-request-id"),
                    **standard_details(trailers),
                )

        response = stub.GetInstanceMetric(
            metrics_pb2.GetInstanceMetricRequest(instance_id=VM_D, metric="instance_ram_usage"),
            timeout=TIMEOUT_S,
            metadata=metadata,
        )
        emit(
            "nan_vm",
            has_value=response.result.HasField("value"),
            series_count=response.result.series_count,
            query=response.result.query,
        )

        response = stub.ListHosts(metrics_pb2.ListHostsRequest(page_size=1000), timeout=TIMEOUT_S, metadata=metadata)
        compute1 = [h for h in response.hosts if h.label_value == "compute-1.example"]
        emit(
            "list_hosts",
            hosts=len(response.hosts),
            health=[metrics_pb2.TargetHealth.Name(t.health) for h in compute1 for t in h.targets],
        )

        response = stub.GetHostMetrics(
            metrics_pb2.GetHostMetricsRequest(
                hosts=["compute-1.example", "ghost.example", "twin"],
                metrics=["host_cpu_usage", "host_power"],
            ),
            timeout=TIMEOUT_S,
            metadata=metadata,
        )
        emit(
            "host_batch",
            items=[
                [
                    item.host,
                    metrics_pb2.ItemStatus.Name(item.status),
                    item.result.metric,
                    item.result.value if item.result.HasField("value") else None,
                ]
                for item in response.items
            ],
            forms=[metrics_pb2.QueryForm.Name(q.form) for q in response.queries],
        )


if __name__ == "__main__":
    main()
