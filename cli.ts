// Copyright the pysocklog authors. MIT license.
/**
 * The `pysocklog` command: `listen` prints records sent by Python's (or
 * this package's) `SocketHandler` and `DatagramHandler`; `send` sends one
 * record per message, as `logger` does for syslog.
 *
 * ```sh
 * deno run --allow-net jsr:@pysocklog/pysocklog/cli listen            # TCP 9020
 * deno run --allow-net jsr:@pysocklog/pysocklog/cli listen --json | jq .msg
 * deno run --allow-net jsr:@pysocklog/pysocklog/cli listen --udp --level WARNING
 * deno run --allow-net jsr:@pysocklog/pysocklog/cli listen --name app.db \
 *   --format '%(asctime)s %(levelname)-8s %(name)s: %(message)s user=%(user)s'
 * deno run --allow-net jsr:@pysocklog/pysocklog/cli send --level ERROR "disk full"
 * ```
 *
 * Records come from the network, so `listen` renders each one within a
 * budget ({@linkcode DEFAULT_MAX_RECORD_CHARS} characters, `--max-chars`):
 * a record that holds a cycle, a structure shared 2^60 times or keys such
 * as `toString` prints a bounded line with what was cut marked, in bounded
 * time. Failures print one line and exit non-zero (2 for a bad command
 * line); a closed stdout (`listen --json | head -1`) ends it quietly.
 *
 * Permissions: `--allow-net`; with `--unix PATH`, `--allow-read
 * --allow-write` too.
 *
 * @example Run the command from code
 * ```ts
 * import { main } from "@pysocklog/pysocklog/cli";
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { equal } from "node:assert/strict";
 *
 * await using receiver = await listen({ port: 0 }); // as `pysocklog listen`
 * const port = String((receiver.addr as Deno.NetAddr).port);
 * equal(await main(["send", "--port", port, "hello from Deno"]), 0);
 * for await (const record of receiver) {
 *   equal(record.msg, "hello from Deno");
 *   break;
 * }
 * ```
 *
 * @module
 */

import dns from "node:dns";
import { DatagramHandler, type Handler, SocketHandler } from "./mod.ts";
import {
  DEFAULT_TCP_LOGGING_PORT,
  DEFAULT_UDP_LOGGING_PORT,
} from "./record.ts";
import { formatAddr, listen, type Receiver } from "./receiver.ts";
import { type CommandArgs, parseCommand, UsageError } from "./cli/_args.ts";
import {
  compileFormat,
  DEFAULT_FORMAT,
  jsonLine,
  type LineFormat,
  nameMatches,
  textLine,
} from "./cli/_format.ts";
import {
  DEFAULT_MAX_RECORD_CHARS,
  errorText,
  MAX_MAX_RECORD_CHARS,
  MIN_MAX_RECORD_CHARS,
} from "./cli/_render.ts";
import { VERSION } from "./cli/_version.ts";
import {
  clearStaleSocket,
  CliError,
  isBrokenPipe,
  printError,
  reason,
  removeSocketLater,
  runCleanups,
} from "./cli/_process.ts";
import { runView } from "./viewer/cli.ts";

export { DEFAULT_FORMAT, DEFAULT_MAX_RECORD_CHARS };

const USAGE =
  `pysocklog ${VERSION}: Python logging's SocketHandler wire format, from Deno.

Usage:
  pysocklog listen [--udp | --unix PATH] [--host HOST] [--port PORT]
                   [--json | --format FORMAT] [--level LEVEL]
                   [--name PREFIX]... [--max-chars N]
  pysocklog send   [--udp | --unix PATH] [--host HOST] [--port PORT]
                   [--level LEVEL] [--name NAME] [MESSAGE...]
  pysocklog view   [--host HOST] [--port PORT] [--udp-port PORT] [--unix PATH]
                   [--http-host HOST] [--http-port PORT] [--buffer N]
  pysocklog --version | --help

listen  prints each record as it arrives: by default a line with time,
        level, logger name, message and extras (key=value), the traceback
        below it; with --format a Python logging.Formatter %-style line
        (e.g. '%(asctime)s %(levelname)-8s %(name)s: %(message)s', extras
        by name, '-' when a record lacks one); with --json one JSON object
        per line, for jq or a log shipper. --level drops records below
        LEVEL (a name such as WARNING, or a number); --name keeps the
        records of logger PREFIX and its children (app: app, app.db).
        Each record's output is cut at --max-chars characters (default
        ${DEFAULT_MAX_RECORD_CHARS}), marked '…(+N chars)'/'…(+N items)'; a cut JSON
        record ends with "$truncated":true. Text lines show terminal
        control characters as \\xNN (newline and tab stay).
send    sends one record per MESSAGE (or per line of stdin when there is
        none) at --level (default INFO) from logger --name (default
        "pysocklog"), and exits 1 when one was not delivered (with
        --udp, when one could not be sent: UDP has no delivery).
view    a live log viewer in the browser: receives on TCP and UDP and
        prints the URL of its page (pysocklog view --help).

Defaults: --host 127.0.0.1, --port 9020 (9021 with --udp).
Permissions: --allow-net (and --allow-read --allow-write with --unix).
`;

/** Ms given to a stopped `listen` to finish its last write before it exits anyway. */
const STOP_GRACE_MS = 1_000;
/** Ms `send` waits for the receiver before giving up on its records. */
const SEND_CLOSE_TIMEOUT_MS = 3_000;

/** Options of {@linkcode formatRecord}. */
export interface FormatOptions {
  /**
   * Colour the level with ANSI escapes (default format only).
   *
   * @default {false}
   */
  color?: boolean;
  /**
   * A Python `logging.Formatter` %-style format, such as
   * `"%(asctime)s %(levelname)-8s %(name)s: %(message)s"`; extras by name.
   * Without it, that format followed by the record's extras as `key=value`.
   *
   * @default {undefined}
   */
  format?: string;
  /**
   * Most characters written for the record (a few more for cut markers).
   *
   * @default {65_536}
   */
  maxChars?: number;
}

let lastFormat: LineFormat | undefined;
let lastFormatLimit = 0;

/** The limit given, checked: a whole number of characters in range. */
function checkMaxChars(maxChars: number | undefined): number {
  if (maxChars === undefined) return DEFAULT_MAX_RECORD_CHARS;
  if (
    !Number.isInteger(maxChars) || maxChars < MIN_MAX_RECORD_CHARS ||
    maxChars > MAX_MAX_RECORD_CHARS
  ) {
    throw new RangeError(
      `maxChars must be an integer from ${MIN_MAX_RECORD_CHARS} to ${MAX_MAX_RECORD_CHARS}, not ${maxChars}`,
    );
  }
  return maxChars;
}

/**
 * One record as human text: Python's
 * `%(asctime)s %(levelname)-8s %(name)s: %(message)s` followed by the
 * record's extras as `key=value`, or the `format` given; `exc_text` and
 * `stack_info` on the lines below. Safe for any record a peer sends:
 * cycles, shared structure and keys such as `toString` are rendered within
 * `maxChars`.
 *
 * @example
 * ```ts
 * import { formatRecord } from "@pysocklog/pysocklog/cli";
 * import { equal } from "node:assert/strict";
 *
 * const record = { created: 0, levelname: "INFO", name: "app", msg: "ready", user: "ann" };
 * equal(formatRecord(record).endsWith(" INFO     app: ready user=ann"), true);
 * equal(formatRecord(record, { format: "%(levelname)s [%(user)s] %(message)s" }), "INFO [ann] ready");
 * ```
 *
 * @param record A received record.
 * @param options Colour, format and limit.
 * @returns The text, without a final newline.
 * @throws {RangeError} When `format` is not a valid %-style format, or
 *   `maxChars` is not an integer from 80 to 2^28.
 */
export function formatRecord(
  record: Readonly<Record<string, unknown>>,
  options: FormatOptions = {},
): string {
  const maxChars = checkMaxChars(options.maxChars);
  let format: LineFormat | undefined;
  if (options.format !== undefined) {
    if (
      lastFormat?.source !== options.format || lastFormatLimit !== maxChars
    ) {
      lastFormat = compileFormat(options.format, maxChars);
      lastFormatLimit = maxChars;
    }
    format = lastFormat;
  }
  return textLine(record, { format, color: options.color, maxChars });
}

/**
 * One record as a line of JSON. Values JSON has no form for are written
 * so that any JSON reader takes them: big integers as numbers when exact,
 * else strings; NaN and ±Infinity as strings; bytes as
 * `{"$bytes": "<base64>"}`; sets and tuples as arrays; dicts with
 * non-string keys as objects of their keys' text; values with `toJSON`
 * (dates, Python's stdlib values) by it; a reference to an enclosing value
 * as `{"$cycle": true}`. Past `maxChars` characters, values are cut
 * (marked `…(+N chars)` or `…(+N items)`) and the record ends with
 * `"$truncated": true`.
 *
 * @example
 * ```ts
 * import { toJSONLine } from "@pysocklog/pysocklog/cli";
 * import { equal } from "node:assert/strict";
 *
 * equal(toJSONLine({ msg: "hi", n: 2n ** 70n, ratio: NaN, raw: new Uint8Array([1, 2]) }),
 *   '{"msg":"hi","n":"1180591620717411303424","ratio":"NaN","raw":{"$bytes":"AQI="}}');
 * const loop: unknown[] = [];
 * loop.push(loop);
 * equal(toJSONLine({ loop }), '{"loop":[{"$cycle":true}]}');
 * ```
 *
 * @param record A received record.
 * @param options The limit.
 * @returns The JSON text, without a newline.
 * @throws {RangeError} When `maxChars` is not an integer from 80 to 2^28.
 */
export function toJSONLine(
  record: Readonly<Record<string, unknown>>,
  options: { maxChars?: number } = {},
): string {
  return jsonLine(record, checkMaxChars(options.maxChars));
}

/** A failure to report in one line, exit code 1. */
async function writeAll(bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    off += await Deno.stdout.write(bytes.subarray(off));
  }
}

async function runListen(
  p: CommandArgs,
  signal?: AbortSignal,
): Promise<number> {
  const transport = p.unix !== undefined ? "unix" : p.udp ? "udp" : "tcp";
  const port = p.port ??
    (p.udp ? DEFAULT_UDP_LOGGING_PORT : DEFAULT_TCP_LOGGING_PORT);
  const where = p.unix !== undefined
    ? `unix ${p.unix}`
    : `${transport} ${p.host.includes(":") ? `[${p.host}]` : p.host}:${port}`;
  let receiver: Receiver;
  try {
    if (p.unix !== undefined) await clearStaleSocket(p.unix);
    receiver = await listen({
      transport,
      path: p.unix,
      hostname: p.host,
      port,
      signal,
    });
  } catch (error) {
    if (error instanceof CliError) throw error;
    let why = reason(error);
    if (p.unix !== undefined && error instanceof Deno.errors.NotFound) {
      why = "its directory does not exist";
    }
    throw new CliError(`cannot listen on ${where}: ${why}`);
  }
  const removeSocket = p.unix !== undefined
    ? removeSocketLater(p.unix)
    : () => {};
  try {
    const a = receiver.addr;
    printError(`pysocklog: listening on ${a.transport} ${formatAddr(a)}`);
    const color = !p.json && p.format === undefined &&
      Deno.stdout.isTerminal() && !Deno.noColor;
    const encoder = new TextEncoder();
    const min = p.level ?? 0;
    for await (const record of receiver) {
      if (signal?.aborted) break;
      const levelno = typeof record.levelno === "number" ? record.levelno : 0;
      if (levelno < min || !nameMatches(record.name, p.names)) continue;
      let text: string;
      try {
        text = p.json
          ? jsonLine(record, p.maxChars)
          : textLine(record, { format: p.format, color, maxChars: p.maxChars });
      } catch (error) {
        // A value whose own code threw (records from loads() have none).
        printError(
          `pysocklog: a record could not be shown: ${errorText(error)}`,
        );
        continue;
      }
      try {
        await writeAll(encoder.encode(text + "\n"));
      } catch (error) {
        if (isBrokenPipe(error)) return 0; // the reader is gone: done
        throw error;
      }
    }
    return 0;
  } finally {
    await receiver.close();
    removeSocket();
  }
}

/** The lines of stdin, without their line ends (\n or \r\n). */
async function* stdinLines(): AsyncGenerator<string> {
  let rest = "";
  for await (
    const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  ) {
    rest += chunk;
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl > 0 && rest[nl - 1] === "\r" ? nl - 1 : nl);
      rest = rest.slice(nl + 1);
    }
  }
  if (rest !== "") yield rest.endsWith("\r") ? rest.slice(0, -1) : rest;
}

/** Fails early, in one line, when Deno would refuse the connection. */
async function checkPermission(
  descriptors: Deno.PermissionDescriptor[],
): Promise<void> {
  for (const d of descriptors) {
    const { state } = await Deno.permissions.query(d);
    if (state === "granted") continue;
    if (state === "prompt" && Deno.stdin.isTerminal()) continue; // Deno asks
    const what = d.name === "net" ? d.host : (d as { path?: string }).path;
    throw new CliError(
      `missing permission: requires ${d.name} access to ${what}, run again with --allow-${d.name}`,
    );
  }
}

async function runSend(p: CommandArgs): Promise<number> {
  const levelno = p.level ?? 20;
  const port = p.port ??
    (p.udp ? DEFAULT_UDP_LOGGING_PORT : DEFAULT_TCP_LOGGING_PORT);
  const where = p.unix ??
    `${p.host.includes(":") ? `[${p.host}]` : p.host}:${port}`;
  await checkPermission(
    p.unix !== undefined
      ? [{ name: "read", path: p.unix }, { name: "write", path: p.unix }]
      : [{ name: "net", host: `${p.host}:${port}` }],
  );
  if (p.udp) {
    // DatagramHandler retries a failed lookup without pause, holding the
    // event loop (its close() never returns): find out first.
    try {
      await dns.promises.lookup(p.host);
    } catch (error) {
      throw new CliError(`cannot send to ${where}: ${reason(error)}`);
    }
  }
  let lastError: unknown;
  const options = {
    closeTimeout: SEND_CLOSE_TIMEOUT_MS,
    exitTimeout: 0,
    onError: (error: unknown) => {
      // The close-timeout drop report says what, not why: keep the cause.
      if (!(error instanceof Error && error.name === "DroppedRecords")) {
        lastError = error;
      }
    },
  };
  // The handler retries quietly; keep why its last attempt failed.
  class Reporting extends SocketHandler {
    override async makeSocket(): Promise<Deno.Conn> {
      try {
        return await super.makeSocket();
      } catch (error) {
        lastError = error;
        throw error;
      }
    }
  }
  const handler: Handler = p.udp
    ? new DatagramHandler(p.host, port, options)
    : p.unix !== undefined
    ? new Reporting(p.unix, null, options)
    : new Reporting(p.host, port, options);
  const name = p.names[0] ?? "pysocklog";
  const messages = p.messages.length > 0 ? p.messages : stdinLines();
  for await (const msg of messages) {
    handler.handle({ name, levelno, msg });
  }
  await handler.close();
  const { emitted, sent } = handler.stats;
  if (sent < emitted) {
    const why = lastError === undefined ? "" : `: ${reason(lastError)}`;
    printError(
      `pysocklog: ${
        emitted - sent
      } of ${emitted} records not delivered to ${where}${why}`,
    );
    return 1;
  }
  return 0;
}

/** The one line for a failure, and the exit code. */
function report(error: unknown): number {
  if (error instanceof UsageError) {
    printError(`pysocklog: ${error.message} (pysocklog --help for usage)`);
    return 2;
  }
  if (isBrokenPipe(error)) return 0;
  printError(
    `pysocklog: ${error instanceof CliError ? error.message : reason(error)}`,
  );
  return 1;
}

/**
 * Runs the command with `args` (as `Deno.args`) and returns its exit code.
 * `listen` runs until `signal` is aborted (or the process is stopped).
 * Failures are written to stderr as one line, never thrown.
 *
 * @example Send one record
 * ```ts
 * import { main } from "@pysocklog/pysocklog/cli";
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { equal } from "node:assert/strict";
 *
 * await using receiver = await listen({ port: 0 });
 * const port = String((receiver.addr as Deno.NetAddr).port);
 * const code = await main(["send", "--port", port, "--level", "WARNING", "disk 91% full"]);
 * equal(code, 0);
 * for await (const record of receiver) {
 *   equal(record.levelname, "WARNING");
 *   break;
 * }
 * ```
 *
 * @param args The command line, without the program name.
 * @param signal Stops `listen`.
 * @returns The exit code: 0 on success, 1 when the command failed (or a
 *   record was not delivered), 2 on a usage error.
 */
export async function main(
  args: string[],
  signal?: AbortSignal,
): Promise<number> {
  try {
    const [command, ...rest] = args;
    switch (command) {
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(USAGE);
        return 0;
      case "--version":
      case "-V":
        console.log(`pysocklog ${VERSION}`);
        return 0;
      case "listen":
      case "send": {
        const p = parseCommand(command, rest);
        if (p.help) {
          console.log(USAGE);
          return 0;
        }
        return command === "listen"
          ? await runListen(p, signal)
          : await runSend(p);
      }
      case "view":
        return await runView(rest, signal);
      default:
        throw new UsageError(
          command.startsWith("-")
            ? `a command comes first (listen, send or view), not ${command}`
            : `unknown command ${JSON.stringify(command)}`,
        );
    }
  } catch (error) {
    return report(error);
  } finally {
    runCleanups();
  }
}

if (import.meta.main) {
  const controller = new AbortController();
  const exit = (code: number) => {
    runCleanups();
    Deno.exit(code);
  };
  // Never a stack trace: whatever escapes is one line.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    exit(report(event.reason));
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    exit(report(event.error));
  });
  // listen stops on a signal as its normal end (exit 0); anything else was
  // interrupted (128 + the signal's number, as a shell reports it).
  const stopped = (sig: Deno.Signal) =>
    Deno.args[0] === "listen" ? 0 : 128 + (sig === "SIGINT" ? 2 : 15);
  const stop = (sig: Deno.Signal) => {
    if (controller.signal.aborted) exit(stopped(sig)); // a second signal: now
    controller.abort();
    // A write stuck on a stalled reader must not keep us alive.
    setTimeout(() => exit(stopped(sig)), STOP_GRACE_MS);
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(sig, () => stop(sig));
    } catch {
      // not available on this platform (SIGTERM on Windows)
    }
  }
  exit(await main(Deno.args, controller.signal));
}
