/**
 * The uWSGI flags Keystone and Aetos share here: one master, `processes` single-threaded workers
 * (sqlite and keystonemiddleware are happiest that way), keep-alive on the HTTP router, room for
 * long GET query strings (Aetos has no POST forms), and no greenlet crash at exit.
 */
export function uwsgiWorkerArgs(processes: number): string[] {
  return [
    "--master",
    "--processes",
    String(processes),
    "--threads",
    "1",
    "--lazy-apps",
    "--die-on-term",
    "--need-app",
    "--http-keepalive",
    "--http-auto-chunked",
    "--buffer-size",
    "65535",
    "--skip-atexit-teardown",
  ];
}
