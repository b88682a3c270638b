import type { OutgoingHttpHeaders } from "node:http";

type Headers = OutgoingHttpHeaders | readonly unknown[] | undefined;

interface HeaderWriter {
  writeHead(status: number, headers?: Headers): unknown;
  addTrailers(trailers: OutgoingHttpHeaders | readonly unknown[]): void;
}

/**
 * connect writes grpc-message with encodeURIComponent, which also escapes ":", ",", "/" and the
 * like. The gRPC spec escapes only bytes outside printable ASCII and "%", and grpc-js decodes with
 * decodeURI, which leaves "%3A" in place: Node callers would read "host%3A required". This
 * re-encodes the header the spec's way on every HTTP/1.1 response, before it is written (HTTP/2
 * responses are written by connect-fallback.ts, which does the same).
 */
export function withSpecGrpcMessage<Req, Res extends HeaderWriter>(
  handler: (req: Req, res: Res) => void,
): (req: Req, res: Res) => void {
  return (req, res) => {
    const writeHead = res.writeHead.bind(res);
    const addTrailers = res.addTrailers.bind(res);
    res.writeHead = (status: number, headers?: Headers) => {
      respell(headers);
      return writeHead(status, headers);
    };
    res.addTrailers = (trailers) => {
      respell(trailers);
      addTrailers(trailers);
    };
    handler(req, res);
  };
}

/** connect builds a fresh header object for every write, so it can be changed in place. */
function respell(headers: Headers): void {
  if (!headers || Array.isArray(headers)) return;
  const record = headers as OutgoingHttpHeaders;
  const message = record["grpc-message"];
  if (typeof message === "string") record["grpc-message"] = respellGrpcMessage(message);
}

/** A grpc-message as connect writes it (encodeURIComponent), re-encoded the spec's way. */
export function respellGrpcMessage(message: string): string {
  return encodeGrpcMessage(decode(message));
}

function decode(message: string): string {
  try {
    return decodeURIComponent(message);
  } catch {
    return message;
  }
}

/** Percent-encodes the UTF-8 bytes outside 0x20–0x7E, and "%", as the gRPC HTTP/2 spec says. */
export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
        : String.fromCharCode(byte);
  }
  return out;
}
