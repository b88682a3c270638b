#!/usr/bin/python3
"""Times single calls through metrics-access from Python grpcio (Debian's, C-core underneath), the
way a Python decision engine would call it: stubs from protoc + grpc_python_plugin, one channel,
a timeout on every call.

Usage: grpcio_loop.py GEN_DIR HOST:PORT WORKLOAD_JSON hosts|instances CALLS OFFSET

Makes CALLS calls one after the other for items OFFSET, OFFSET+1, ... of the workload file (wrapping
around) after a few untimed warm-up calls, and prints {"latencies_ms": [...]} as one JSON line.
"""

import json
import sys

from timing import print_latencies

TIMEOUT_S = 30.0


def main():
    gen_dir, target, workload_file, kind = sys.argv[1:5]
    calls, offset = int(sys.argv[5]), int(sys.argv[6])
    sys.path.insert(0, gen_dir)
    import grpc
    from metricsaccess.v1 import metrics_pb2, metrics_pb2_grpc

    with open(workload_file, encoding="utf-8") as f:
        items = json.load(f)[kind]
    channel = grpc.insecure_channel(target)
    stub = metrics_pb2_grpc.MetricsServiceStub(channel)

    if kind == "hosts":
        def request(i):
            item = items[i % len(items)]
            return stub.GetHostMetric(
                metrics_pb2.GetHostMetricRequest(host=item["host"], metric="host_cpu_usage"),
                timeout=TIMEOUT_S,
            )
    else:
        def request(i):
            item = items[i % len(items)]
            return stub.GetInstanceMetric(
                metrics_pb2.GetInstanceMetricRequest(
                    instance_id=item["instanceId"], vcpus=item["vcpus"], metric="instance_cpu_usage"
                ),
                timeout=TIMEOUT_S,
            )

    print_latencies(request, calls, offset)
    channel.close()


if __name__ == "__main__":
    main()
