import { chmodSync, lstatSync, statSync, unlinkSync } from "node:fs";
import { lstat, unlink } from "node:fs/promises";
import { connect } from "node:net";

/**
 * The socket file's mode: owner and group may connect (connecting needs write permission on the
 * file), others may not. A sidecar's client runs as the same user or shares a group with the
 * service (Kubernetes: the pod's fsGroup). The mode is set right after bind, before the server
 * accepts anything; a directory only the intended users can enter (mode 0750, or a pod's own
 * emptyDir) closes the instant between the two as well.
 */
export const SOCKET_MODE = 0o660;

/** How long a socket file's listener gets to accept before the file is taken for one in use. */
const PROBE_TIMEOUT_MS = 1_000;

/** An error with a code, as node's own: the transport's LISTEN_FAILED message shows the code. */
function codeError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * Makes `path` free to bind. Nothing there: fine. A socket nobody answers on (left by a run that
 * was killed, which had no chance to remove it): removed. Anything else is refused and left alone:
 * a socket someone answers on (EADDRINUSE: another instance serves there), or a file that is not
 * a socket (EEXIST: a wrong path must not cost someone a file).
 */
export async function claimSocketPath(path: string): Promise<void> {
  const found = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (found === undefined) return;
  if (!found.isSocket()) throw codeError("EEXIST", `${path} exists and is not a socket`);
  if (await answers(path)) throw codeError("EADDRINUSE", `something answers on ${path}`);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}

/** Whether a listener accepts on the socket at `path`: ECONNREFUSED says nobody does. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const done = (result: boolean | Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    // A listener whose backlog is full does not accept in time, but it lives.
    const timer = setTimeout(() => done(true), PROBE_TIMEOUT_MS);
    socket.once("connect", () => done(true));
    socket.once("error", (err: NodeJS.ErrnoException) => {
      done(err.code === "ECONNREFUSED" ? false : err);
    });
  });
}

/**
 * Sets {@link SOCKET_MODE} on the socket just bound at `path`, synchronously (nothing is accepted
 * before the event loop turns), and returns the file's identity for {@link removeSocketFile}.
 */
export function restrictSocketFile(path: string): { dev: number; ino: number } {
  chmodSync(path, SOCKET_MODE);
  const { dev, ino } = statSync(path);
  return { dev, ino };
}

/**
 * Removes the socket file once the server is closed, if it is still the one this server bound (a
 * newer instance may already have replaced it). node removes it on close already; this makes it
 * certain, and harmless when it is gone.
 */
export function removeSocketFile(path: string, identity: { dev: number; ino: number }): void {
  try {
    const now = lstatSync(path);
    if (now.isSocket() && now.dev === identity.dev && now.ino === identity.ino) unlinkSync(path);
  } catch {
    // Gone already, or not ours to judge: either way there is nothing to remove.
  }
}
