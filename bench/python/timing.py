"""The timing loop both Python callers share, so that they are measured exactly alike."""

import json
import time

# The first calls pay for the connection (and HTTP/2 set-up), which no steady caller pays.
WARM_UP = 20


def print_latencies(request, calls, offset):
    """Warms up on items after the measured ones, then prints each call's latency in ms as JSON."""
    for i in range(WARM_UP):
        request(offset + calls + i)
    latencies = []
    for i in range(calls):
        started = time.perf_counter_ns()
        request(offset + i)
        latencies.append((time.perf_counter_ns() - started) / 1e6)
    print(json.dumps({"latencies_ms": latencies}))
