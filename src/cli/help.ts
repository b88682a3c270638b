import { type CommandName, DEFAULT_PROBE_TIMEOUT_MS } from "./args.js";

const CONFIG_OPTION = `  --config-file PATH   an INI file (watcher.conf); repeatable, a later file overrides an earlier
                       one option by option. Without it: the file METRICS_ACCESS_CONFIG_FILE names.
                       METRICS_ACCESS__<SECTION>__<OPTION> variables override files.`;

const GLOBAL = `Usage:
  metrics-access [serve] [--config-file PATH]...
  metrics-access check-config [--config-file PATH]... [--json] [--host NAME] [--instance UUID]
  metrics-access probe [--config-file PATH]... [--address HOST:PORT|unix:PATH] [--timeout MS]
  metrics-access help [COMMAND] | --help | --version

Commands:
  serve          run the service (what runs when no command is given)
  check-config   validate the configuration, reach Prometheus or Aetos (through Keystone), list the
                 hosts, run one query per metric, and print a report
  probe          ask the running service's gRPC health service; for container health checks

Every command reads the configuration the same way:
${CONFIG_OPTION}

Run "metrics-access COMMAND --help" for a command's options and exit codes.
Documentation: docs/cli.md, docs/configuration.md.
`;

const COMMANDS: Readonly<Record<CommandName, string>> = {
  serve: `Usage: metrics-access [serve] [--config-file PATH]...

Runs the service: gRPC, gRPC-Web and Connect on [metrics_access] listen, the admin port on
admin_listen. JSON log lines on stdout. Stops on SIGTERM or SIGINT after draining calls in flight.

Options:
${CONFIG_OPTION}
  -h, --help           this help

Exit codes:
  0  stopped by SIGTERM or SIGINT after draining
  1  could not start (Keystone unreachable or refusing, no metric-storage endpoint, address taken)
  2  invalid configuration or command line (every problem is named on stderr)
`,
  "check-config": `Usage: metrics-access check-config [--config-file PATH]... [--json] [--host NAME] [--instance UUID]

Validates the configuration with the service's own loader, then checks what serving needs:
Prometheus answering (direct), or Keystone issuing a token, the metric-storage endpoint in its
catalog and Aetos answering with that token (aetos); the hosts the service can see; the metric
catalogue and which metrics the backend holds; one query per metric it holds (a host metric for
one host, an instance metric for one instance), over the last 300 s, mean, as GetHostMetric and
GetInstanceMetric answer them. Prints one row per check: check, status (ok, failed, skipped), detail.
Passwords, secrets and tokens are never printed.

Options:
${CONFIG_OPTION}
  --json               print one JSON document instead of the table
  --host NAME          the host to ask host metrics for (a name as Nova knows it);
                       default: the first host with a target that is up, else the first host
  --instance UUID      the instance to ask instance metrics for; default: the first instance found
                       in the answer of the first instance metric the backend holds
  -h, --help           this help

Exit codes:
  0  every check is ok or skipped
  1  a check failed (the report names it)
  2  invalid configuration (the report lists every problem) or command line
`,
  probe: `Usage: metrics-access probe [--config-file PATH]... [--address HOST:PORT|unix:PATH] [--timeout MS]

Calls grpc.health.v1.Health/Check (service "") on the running service and prints one line.
Without --address it dials [metrics_access] listen (0.0.0.0 and [::] as the loopback address),
read from the same files and environment as serve; with no configuration at all, the default
127.0.0.1:50051. Speaks TLS when tls_certfile and tls_keyfile are set, as the server does.
For a container: HEALTHCHECK CMD ["node", "/app/dist/main.js", "probe"]

Options:
${CONFIG_OPTION}
  --address ADDRESS    the address to dial instead of listen's: HOST:PORT or unix:PATH
  --timeout MS         milliseconds for the whole check, connecting included (default ${DEFAULT_PROBE_TIMEOUT_MS})
  -h, --help           this help

Exit codes:
  0  SERVING
  1  anything else: NOT_SERVING, no answer in time, refused, unreadable configuration
  2  invalid command line
`,
};

/** The global help, or a command's. */
export function helpText(topic: CommandName | undefined, version: string): string {
  if (topic !== undefined) return COMMANDS[topic];
  return `metrics-access ${version}: a gRPC door to cloud metrics in Prometheus, directly or through OpenStack Aetos\n\n${GLOBAL}`;
}
