#!/usr/bin/python3
"""Times the same PromQL straight to Prometheus from Python `requests` (Debian's python3-requests),
the way Watcher's Prometheus datasource asks it: GET /api/v1/query with the query and no time, over
one keep-alive session, the JSON parsed and the value read.

Usage: requests_loop.py PROMETHEUS_URL WORKLOAD_JSON hosts|instances CALLS OFFSET

Prints {"latencies_ms": [...]} as one JSON line.
"""

import json
import sys

import requests

from timing import print_latencies

TIMEOUT_S = 30.0


def main():
    url, workload_file, kind = sys.argv[1:4]
    calls, offset = int(sys.argv[4]), int(sys.argv[5])
    with open(workload_file, encoding="utf-8") as f:
        items = json.load(f)[kind]
    session = requests.Session()
    endpoint = url.rstrip("/") + "/api/v1/query"

    def request(i):
        item = items[i % len(items)]
        res = session.get(endpoint, params={"query": item["promql"]}, timeout=TIMEOUT_S)
        res.raise_for_status()
        result = res.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    print_latencies(request, calls, offset)
    session.close()


if __name__ == "__main__":
    main()
