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
 * deno run --allow-net jsr:@pysocklog/pysocklog/cli send --level ERROR "disk full"
 * ```
 *
 * Permissions: `--allow-net`; with `--unix PATH`, `--allow-read
 * --allow-write` too.
 *
 * @example Run the command from code
 * ```ts ignore
 * import { main } from "@pysocklog/pysocklog/cli";
 *
 * Deno.exit(await main(["send", "--port", "9020", "hello from Deno"]));
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  DatagramHandler,
  DEFAULT_TCP_LOGGING_PORT,
  DEFAULT_UDP_LOGGING_PORT,
  getLevelName,
  getLevelNo,
  type Handler,
  SocketHandler,
} from "./mod.ts";
import { formatAddr, listen, type ReceivedRecord } from "./receiver.ts";
import { runView } from "./viewer/cli.ts";

const USAGE = `pysocklog: Python logging's SocketHandler wire format, from Deno.

Usage:
  pysocklog listen [--udp | --unix PATH] [--host HOST] [--port PORT]
                   [--json] [--level LEVEL]
  pysocklog send   [--udp | --unix PATH] [--host HOST] [--port PORT]
                   [--level LEVEL] [--name NAME] [MESSAGE...]

listen  prints each record as it arrives: a line with time, level, logger
        name and message (the traceback below it), or with --json one JSON
        object per line, for jq or a log shipper. --level drops records
        below LEVEL (a name such as WARNING, or a number).
send    sends one record per MESSAGE (or per line of stdin when there is
        none) at --level (default INFO) from logger --name (default
        "pysocklog"), and exits 1 when one was not delivered.

Defaults: --host 127.0.0.1, --port 9020 (9021 with --udp).
Permissions: --allow-net (and --allow-read --allow-write with --unix).
`;

/** Options of {@linkcode formatRecord}. */
export interface FormatOptions {
  /**
   * Colour the level with ANSI escapes.
   *
   * @default {false}
   */
  color?: boolean;
}

const LEVEL_COLORS: ReadonlyArray<readonly [number, string]> = [
  [50, "\x1b[1;31m"], // CRITICAL: bold red
  [40, "\x1b[31m"], // ERROR: red
  [30, "\x1b[33m"], // WARNING: yellow
  [20, "\x1b[32m"], // INFO: green
  [0, "\x1b[90m"], // DEBUG and below: grey
];
const RESET = "\x1b[0m";

function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

function formatTime(created: unknown): string {
  if (typeof created !== "number" || !Number.isFinite(created)) {
    return "????-??-?? ??:??:??.???";
  }
  const d = new Date(created * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${
    pad2(d.getHours())
  }:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${
    String(d.getMilliseconds()).padStart(3, "0")
  }`;
}

/**
 * One record as a human line, in the spirit of Python's
 * `%(asctime)s %(levelname)-8s %(name)s: %(message)s`, with `exc_text` and
 * `stack_info` on the lines below.
 *
 * @example
 * ```ts
 * import { formatRecord } from "@pysocklog/pysocklog/cli";
 * import { equal } from "node:assert/strict";
 *
 * const line = formatRecord({ created: 0, levelname: "INFO", name: "app", msg: "ready" });
 * equal(line.endsWith(" INFO     app: ready"), true);
 * ```
 *
 * @param record A received record.
 * @param options Whether to colour the level.
 * @returns The text, without a final newline.
 */
export function formatRecord(
  record: ReceivedRecord,
  options: FormatOptions = {},
): string {
  const levelno = typeof record.levelno === "number" ? record.levelno : 0;
  const levelname = typeof record.levelname === "string"
    ? record.levelname
    : getLevelName(levelno);
  let level = levelname.padEnd(8);
  if (options.color) {
    const color = LEVEL_COLORS.find(([min]) => levelno >= min)![1];
    level = color + level + RESET;
  }
  let line = `${formatTime(record.created)} ${level} ${
    String(record.name ?? "root")
  }: ${String(record.msg ?? "")}`;
  if (typeof record.exc_text === "string" && record.exc_text !== "") {
    line += "\n" + record.exc_text;
  }
  if (typeof record.stack_info === "string" && record.stack_info !== "") {
    line += "\n" + record.stack_info;
  }
  return line;
}

/**
 * One record as a line of JSON. Values JSON has no form for are written
 * so that any JSON reader takes them: big integers as numbers when exact,
 * else strings; NaN and ±Infinity as strings; bytes as base64 strings; sets
 * as arrays; dicts with non-string keys as objects of their keys' text;
 * inert Python objects by their `toJSON`.
 *
 * @example
 * ```ts
 * import { toJSONLine } from "@pysocklog/pysocklog/cli";
 * import { equal } from "node:assert/strict";
 *
 * equal(toJSONLine({ msg: "hi", n: 2n ** 70n, ratio: NaN }),
 *   '{"msg":"hi","n":"1180591620717411303424","ratio":"NaN"}');
 * ```
 *
 * @param record A received record.
 * @returns The JSON text, without a newline.
 */
export function toJSONLine(record: ReceivedRecord): string {
  return JSON.stringify(record, jsonReplacer);
}

function jsonReplacer(this: unknown, _key: string, value: unknown): unknown {
  switch (typeof value) {
    case "bigint":
      return Number.isSafeInteger(Number(value))
        ? Number(value)
        : String(value);
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "object":
      if (value instanceof Uint8Array) return toBase64(value);
      if (value instanceof Set) return [...value];
      if (value instanceof Map) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of value) {
          Object.defineProperty(out, String(k), {
            value: v,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
      return value;
    default:
      return value;
  }
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

interface Parsed {
  command: string;
  udp: boolean;
  unix?: string;
  host: string;
  port?: number;
  json: boolean;
  level?: string;
  name: string;
  messages: string[];
}

function parse(args: string[]): Parsed {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      udp: { type: "boolean", default: false },
      unix: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      json: { type: "boolean", default: false },
      level: { type: "string" },
      name: { type: "string", default: "pysocklog" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command = "help", ...messages] = values.help ? ["help"] : positionals;
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TypeError(`--port must be 0 to 65535, not ${values.port}`);
    }
  }
  if (values.udp && values.unix !== undefined) {
    throw new TypeError("--udp and --unix cannot go together");
  }
  return {
    command,
    udp: values.udp,
    unix: values.unix,
    host: values.host,
    port,
    json: values.json,
    level: values.level,
    name: values.name,
    messages,
  };
}

function levelOf(text: string): number {
  return getLevelNo(/^\d+$/.test(text) ? Number(text) : text);
}

async function runListen(p: Parsed, signal?: AbortSignal): Promise<number> {
  const min = p.level === undefined ? 0 : levelOf(p.level);
  const receiver = await listen({
    transport: p.unix !== undefined ? "unix" : p.udp ? "udp" : "tcp",
    path: p.unix,
    hostname: p.host,
    port: p.port ??
      (p.udp ? DEFAULT_UDP_LOGGING_PORT : DEFAULT_TCP_LOGGING_PORT),
    signal,
  });
  const a = receiver.addr;
  console.error(`pysocklog: listening on ${a.transport} ${formatAddr(a)}`);
  const color = !p.json && Deno.stdout.isTerminal() && !Deno.noColor;
  const encoder = new TextEncoder();
  for await (const record of receiver) {
    const levelno = typeof record.levelno === "number" ? record.levelno : 0;
    if (levelno < min) continue;
    const text = p.json ? toJSONLine(record) : formatRecord(record, { color });
    await writeAll(encoder.encode(text + "\n"));
  }
  return 0;
}

async function writeAll(bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    off += await Deno.stdout.write(bytes.subarray(off));
  }
}

async function* stdinLines(): AsyncGenerator<string> {
  let rest = "";
  for await (
    const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  ) {
    rest += chunk;
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  if (rest !== "") yield rest;
}

async function runSend(p: Parsed): Promise<number> {
  const levelno = levelOf(p.level ?? "INFO");
  const options = { closeTimeout: 3_000, exitTimeout: 0 };
  const handler: Handler = p.udp
    ? new DatagramHandler(p.host, p.port ?? DEFAULT_UDP_LOGGING_PORT, options)
    : p.unix !== undefined
    ? new SocketHandler(p.unix, null, options)
    : new SocketHandler(p.host, p.port ?? DEFAULT_TCP_LOGGING_PORT, options);
  const messages = p.messages.length > 0 ? p.messages : stdinLines();
  for await (const msg of messages) {
    handler.handle({ name: p.name, levelno, msg });
  }
  await handler.close();
  const { emitted, sent } = handler.stats;
  if (sent < emitted) {
    const where = p.unix ?? `${p.host}:${p.port ?? "default port"}`;
    console.error(
      `pysocklog: ${
        emitted - sent
      } of ${emitted} records not delivered to ${where}`,
    );
    return 1;
  }
  return 0;
}

/**
 * Runs the command with `args` (as `Deno.args`) and returns its exit code.
 * `listen` runs until `signal` is aborted (or the process is stopped).
 *
 * @example Send one record
 * ```ts ignore
 * import { main } from "@pysocklog/pysocklog/cli";
 *
 * const code = await main(["send", "--level", "WARNING", "disk 91% full"]);
 * ```
 *
 * @param args The command line, without the program name.
 * @param signal Stops `listen`.
 * @returns The exit code: 0 on success, 1 when a record was not
 *   delivered, 2 on a usage error.
 */
export async function main(
  args: string[],
  signal?: AbortSignal,
): Promise<number> {
  if (args[0] === "view") return await runView(args.slice(1), signal);
  let p: Parsed;
  try {
    p = parse(args);
    if (p.level !== undefined) levelOf(p.level);
  } catch (error) {
    console.error(`pysocklog: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  switch (p.command) {
    case "listen":
      return await runListen(p, signal);
    case "send":
      return await runSend(p);
    case "help":
      console.log(USAGE);
      return 0;
    default:
      console.error(`pysocklog: unknown command ${p.command}\n\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) {
  const controller = new AbortController();
  try {
    Deno.addSignalListener("SIGINT", () => controller.abort());
    Deno.addSignalListener("SIGTERM", () => controller.abort());
  } catch {
    // signals are not available (Windows for SIGTERM): Ctrl-C still ends it
  }
  Deno.exit(await main(Deno.args, controller.signal));
}
