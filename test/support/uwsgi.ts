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
    // A master killed (SIGKILL after a slow stop on a loaded machine) must not leave its workers
    // behind: orphaned uWSGI workers were seen spinning at 40 % CPU each for the rest of a run.
    "--no-orphans",
    "--worker-reload-mercy",
    "5",
    "--need-app",
    "--http-keepalive",
    "--http-auto-chunked",
    "--buffer-size",
    "65535",
    "--skip-atexit-teardown",
  ];
}
