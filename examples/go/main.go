// Command client calls metrics-access the way a Go decision engine would: grpc-go, the stubs that
// protoc + protoc-gen-go + protoc-gen-go-grpc generate from proto/metricsaccess/v1/metrics.proto,
// a 10 s deadline on every call and an x-request-id in the metadata. README.md says how to build it.
//
// Usage: [METRICS_ACCESS_SERVICE_CONFIG=examples/service-config.json GRPC_GO_RETRY=on] client HOST:PORT [REQUEST_ID]
//
// Prints one JSON object per line, each with a "case" key, as test/interop/python/client.py does:
//
//	host_cpu          compute-1.example's host CPU usage (mean, 300 s)
//	instance_ram      vm-a's RAM usage
//	not_found         status code name and message of an unknown host, with the google.rpc.ErrorInfo
//	                  reason decoded from the status details (grpc-status-details-bin)
//	invalid_argument  the same for an empty host, with the google.rpc.BadRequest field
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	metricsv1 "metricsaccess/gen/metricsaccess/v1"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	timeout = 10 * time.Second
	vmA     = "11111111-1111-4111-8111-111111111111"
)

// codeNames are the canonical status code names (grpc-go's Code.String() says "NotFound").
var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL",
	codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

func emit(c string, fields map[string]any) {
	fields["case"] = c
	line, err := json.Marshal(fields) // map keys come out sorted, like Python's sort_keys=True
	if err != nil {
		fail(err)
	}
	fmt.Println(string(line))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "client:", err)
	os.Exit(1)
}

func first(md metadata.MD, key string) any {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return nil
}

// call gives each call its own deadline and the request id.
func call(requestID string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	return metadata.AppendToOutgoingContext(ctx, "x-request-id", requestID), cancel
}

func valueFields(r *metricsv1.MetricValue) map[string]any {
	f := map[string]any{
		"metric":       r.GetMetric(),
		"has_value":    r.Value != nil,
		"value":        r.GetValue(),
		"unit":         r.GetUnit(),
		"label_name":   r.GetLabelName(),
		"label_value":  r.GetLabelValue(),
		"query":        r.GetQuery(),
		"series_count": r.GetSeriesCount(),
	}
	return f
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: client HOST:PORT [REQUEST_ID]")
		os.Exit(2)
	}
	target, requestID := os.Args[1], "go-client"
	if len(os.Args) > 2 {
		requestID = os.Args[2]
	}

	options := []grpc.DialOption{grpc.WithInsecure()}
	// The retry policy the service publishes (examples/service-config.json): UNAVAILABLE is retried
	// with backoff. grpc-go before 1.40 (Debian 12 has 1.33) applies it only with GRPC_GO_RETRY=on.
	if path := os.Getenv("METRICS_ACCESS_SERVICE_CONFIG"); path != "" {
		config, err := os.ReadFile(path)
		if err != nil {
			fail(err)
		}
		options = append(options, grpc.WithDefaultServiceConfig(string(config)))
	}
	conn, err := grpc.Dial(target, options...)
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	client := metricsv1.NewMetricsServiceClient(conn)

	ctx, cancel := call(requestID)
	var header metadata.MD
	host, err := client.GetHostMetric(ctx, &metricsv1.GetHostMetricRequest{
		Host:      "compute-1.example",
		Metric:    "host_cpu_usage",
		Period:    durationpb.New(300 * time.Second),
		Aggregate: metricsv1.Aggregate_AGGREGATE_MEAN,
	}, grpc.Header(&header))
	cancel()
	if err != nil {
		fail(err)
	}
	fields := valueFields(host.GetResult())
	fields["has_result"] = host.Result != nil
	fields["request_id"] = first(header, "x-request-id")
	emit("host_cpu", fields)

	ctx, cancel = call(requestID)
	instance, err := client.GetInstanceMetric(ctx, &metricsv1.GetInstanceMetricRequest{
		InstanceId: vmA,
		Metric:     "instance_ram_usage",
		Period:     durationpb.New(300 * time.Second),
	})
	cancel()
	if err != nil {
		fail(err)
	}
	emit("instance_ram", valueFields(instance.GetResult()))

	for _, c := range []struct{ name, host, metric string }{
		{"not_found", "no-such-host.example", "host_cpu_usage"},
		{"invalid_argument", "", "host_cpu_usage"},
	} {
		ctx, cancel = call(requestID)
		var trailer metadata.MD
		_, err := client.GetHostMetric(ctx, &metricsv1.GetHostMetricRequest{Host: c.host, Metric: c.metric},
			grpc.Trailer(&trailer))
		cancel()
		st := status.Convert(err) // OK when err is nil
		fields := map[string]any{
			"code":         codeNames[st.Code()],
			"details":      st.Message(),
			"error_reason": first(trailer, "x-error-reason"),
			"request_id":   first(trailer, "x-request-id"),
		}
		// The google.rpc.Status details, decoded by grpc-go from grpc-status-details-bin.
		for _, d := range st.Details() {
			switch d := d.(type) {
			case *errdetails.ErrorInfo:
				fields["info_reason"], fields["info_domain"] = d.GetReason(), d.GetDomain()
			case *errdetails.BadRequest:
				violated := []string{}
				for _, v := range d.GetFieldViolations() {
					violated = append(violated, v.GetField())
				}
				fields["violated_fields"] = violated
			}
		}
		emit(c.name, fields)
	}
}
