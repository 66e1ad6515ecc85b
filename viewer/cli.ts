// Copyright the pysocklog authors. MIT license.
// `pysocklog view`: the command line of the viewer (cli.ts dispatches here).

import { parseArgs } from "node:util";
import {
  DEFAULT_TCP_LOGGING_PORT,
  DEFAULT_UDP_LOGGING_PORT,
} from "../record.ts";
import type { ListenOptions } from "../receiver.ts";
import {
  DEFAULT_BUFFER_RECORDS,
  DEFAULT_HTTP_PORT,
  describeReceivers,
  isLoopback,
  MAX_BUFFER_RECORDS,
  serveViewer,
} from "./server.ts";
import { clearStaleSocket } from "../cli/_process.ts";

/** Help text of `pysocklog view`. */
export const VIEW_USAGE =
  `pysocklog view: a live log viewer in the browser, for Python logging's
SocketHandler and DatagramHandler (and this package's handlers).

Usage:
  pysocklog view [--host HOST] [--port PORT] [--udp-port PORT] [--unix PATH]
                 [--http-host HOST] [--http-port PORT] [--buffer N]

Receives records on TCP --port (default ${DEFAULT_TCP_LOGGING_PORT}) and UDP --udp-port (default
${DEFAULT_UDP_LOGGING_PORT}) at --host (default 127.0.0.1), or only on the Unix socket --unix
PATH, with the same safe decoder and bounds as \`pysocklog listen\`. Serves the
page on http://127.0.0.1:${DEFAULT_HTTP_PORT}/ (--http-port; 0 picks a free port), prints
its URL and opens nothing. The page keeps the last --buffer records (default
${DEFAULT_BUFFER_RECORDS.toLocaleString("en-US")}).

--http-host with an address other than loopback serves the page to other
hosts: every request then needs the random token printed in the URL.

Permissions: --allow-net (and --allow-read --allow-write with --unix).
`;

function port(text: string | undefined, flag: string, fallback: number) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) {
    throw new RangeError(`${flag} must be 0 to 65535, not ${text}`);
  }
  return n;
}

/**
 * Runs `pysocklog view` with `args` (after the word `view`) until `signal`
 * is aborted, and returns the exit code: 0 when stopped, 1 when it could
 * not start, 2 on a usage error.
 */
export async function runView(
  args: string[],
  signal?: AbortSignal,
): Promise<number> {
  let receivers: ListenOptions[];
  let httpHostname: string;
  let httpPort: number;
  let bufferRecords: number;
  try {
    const { values, positionals, tokens } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      tokens: true,
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string" },
        "udp-port": { type: "string" },
        unix: { type: "string" },
        "http-host": { type: "string", default: "127.0.0.1" },
        "http-port": { type: "string" },
        buffer: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(VIEW_USAGE);
      return 0;
    }
    // As listen and send: a repeated option is an error, not the last one
    // silently winning; an empty path or host is not a default.
    const seen = new Set<string>();
    for (const t of tokens) {
      if (t.kind !== "option") continue;
      if (seen.has(t.name)) throw new TypeError(`--${t.name} given twice`);
      seen.add(t.name);
    }
    if (values.unix === "") throw new TypeError("--unix needs a socket path");
    for (const flag of ["host", "http-host"] as const) {
      if (values[flag] === "") {
        throw new TypeError(`--${flag} needs a host name or address`);
      }
    }
    if (positionals.length > 0) {
      throw new TypeError(`unexpected argument ${positionals[0]}`);
    }
    if (
      values.unix !== undefined &&
      (values.port !== undefined || values["udp-port"] !== undefined)
    ) {
      throw new TypeError("--unix cannot go with --port or --udp-port");
    }
    receivers = values.unix !== undefined
      ? [{ transport: "unix", path: values.unix }]
      : [
        {
          transport: "tcp",
          hostname: values.host,
          port: port(values.port, "--port", DEFAULT_TCP_LOGGING_PORT),
        },
        {
          transport: "udp",
          hostname: values.host,
          port: port(
            values["udp-port"],
            "--udp-port",
            DEFAULT_UDP_LOGGING_PORT,
          ),
        },
      ];
    httpHostname = values["http-host"];
    httpPort = port(values["http-port"], "--http-port", DEFAULT_HTTP_PORT);
    bufferRecords = values.buffer === undefined
      ? DEFAULT_BUFFER_RECORDS
      : Number(values.buffer);
    if (
      !/^\d+$/.test(values.buffer ?? "1") || bufferRecords < 1 ||
      bufferRecords > MAX_BUFFER_RECORDS
    ) {
      throw new RangeError(
        `--buffer must be 1 to ${MAX_BUFFER_RECORDS}, not ${values.buffer}`,
      );
    }
  } catch (error) {
    console.error(
      `pysocklog view: ${
        usageMessage(error)
      } (pysocklog view --help for usage)`,
    );
    return 2;
  }
  let viewer;
  try {
    // A socket file left by a killed viewer is replaced, as listen does;
    // a regular file is refused by name (it read "Address already in use").
    const [first] = receivers;
    if (first.transport === "unix") await clearStaleSocket(first.path!);
    viewer = await serveViewer({
      receivers,
      httpHostname,
      httpPort,
      bufferRecords,
      signal,
    });
  } catch (error) {
    console.error(`pysocklog view: ${oneLine(error)}`);
    return 1;
  }
  console.error(
    `pysocklog view: receiving on ${describeReceivers(viewer.receivers)}`,
  );
  if (!isLoopback(httpHostname)) {
    console.error(
      `pysocklog view: serving beyond loopback on ${httpHostname}; ` +
        "the page and its feed need the token in this URL",
    );
  }
  console.error(`pysocklog view: open ${viewer.url}`);
  await viewer.finished;
  return 0;
}

/**
 * A usage error in one short line: node:util's parseArgs writes up to three
 * lines of advice ("Option '--port' argument is ambiguous.\nDid you ...").
 */
function usageMessage(error: unknown): string {
  const message = oneLine(error);
  const code = (error as { code?: unknown }).code;
  const option = /'(-[^' ]*)/.exec(message)?.[1];
  if (option === undefined) return message;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    return `unknown option ${option}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (message.includes("ambiguous")) {
      return `${option} needs a value; write ${option}=VALUE for one that starts with "-"`;
    }
    if (message.includes("missing")) return `${option} needs a value`;
  }
  return message;
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? `${error.message}` : String(error);
  return message.split("\n")[0];
}
