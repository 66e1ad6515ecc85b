// Copyright the pysocklog authors. MIT license.
/**
 * LogTape sinks that send records in Python's `SocketHandler` wire format:
 * `getSocketSink()` over TCP (or TLS, or a Unix socket) and
 * `getDatagramSink()` over UDP, each a LogTape `Sink & AsyncDisposable`.
 *
 * The types are structural: this entry imports nothing from LogTape, so it
 * works with any LogTape version whose records have `category`, `level`,
 * `message`, `timestamp` and `properties` (LogTape 0.x to 2.x).
 *
 * Permissions: `--allow-net`; for a Unix socket `path`, `--allow-read
 * --allow-write`.
 *
 * @example Log to a receiver with LogTape
 * ```ts
 * import { configure, getLogger, reset } from "@logtape/logtape";
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { getSocketSink } from "@pysocklog/pysocklog/logtape";
 * import { equal } from "node:assert/strict";
 *
 * // A receiver on a free port; a Python one on 9020 sees the same records.
 * await using receiver = await listen({ port: 0 });
 * const { port } = receiver.addr as Deno.NetAddr;
 *
 * await configure({
 *   sinks: { python: getSocketSink({ hostname: "127.0.0.1", port }) },
 *   loggers: [
 *     { category: ["app"], sinks: ["python"], lowestLevel: "info" },
 *     { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
 *   ],
 * });
 * getLogger(["app", "db"]).info("Connected to {host}", { host: "db1" });
 * await reset(); // disposes the sink: what it holds is written
 *
 * for await (const record of receiver) {
 *   equal(record.name, "app.db");
 *   equal(record.msg, "Connected to db1");
 *   equal(record.host, "db1"); // Python: record.host
 *   break;
 * }
 * ```
 *
 * @module
 */

import type { SocketHandler, SocketHandlerOptions } from "./handlers/socket.ts";
import type {
  DatagramHandler,
  DatagramHandlerOptions,
} from "./handlers/datagram.ts";
import {
  findCallerAbove,
  type LogRecordDict,
  type LogRecordInit,
  makeLogRecord,
} from "./record.ts";
import {
  type DatagramAddress,
  datagramHandlerAt,
  type SocketAddress,
  socketHandlerAt,
  toExtra,
} from "./adapters/_shared.ts";

// The types these sinks' signatures use, re-exported so that the
// documentation of this entry is complete on its own.
export type {
  DatagramHandler,
  DatagramHandlerOptions,
  Filter,
  FrameBatch,
  Handler,
  HandlerOptions,
  HandlerStats,
  Level,
  LogRecordDict,
  LogRecordFields,
  LogRecordInit,
  SocketHandler,
  SocketHandlerOptions,
  TlsOptions,
} from "./mod.ts";
export type { DatagramAddress, SocketAddress } from "./adapters/_shared.ts";

/** A LogTape level. */
export type LogTapeLevel =
  | "trace"
  | "debug"
  | "info"
  | "warning"
  | "error"
  | "fatal";

/**
 * The parts of a LogTape `LogRecord` the sinks read (LogTape's own type is
 * assignable to it).
 */
export interface LogTapeRecord {
  /** Category, e.g. `["app", "db"]`. */
  readonly category: readonly string[];
  /** Level. */
  readonly level: LogTapeLevel;
  /** Message parts: text at even indices, values at odd ones. */
  readonly message: readonly unknown[];
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  /** Structured properties. */
  readonly properties: Record<string, unknown>;
  /** Where the log call was made, when LogTape captured it (2.4+). */
  readonly sourceLocation?: {
    readonly file: string;
    readonly line: number;
    readonly column: number;
  };
}

/** A LogTape sink: LogTape calls it once per record. */
export type LogTapeSink = (record: LogTapeRecord) => void;

/** What the sink factories return: a LogTape sink you can flush and dispose. */
export type PythonSink = LogTapeSink & AsyncDisposable & {
  /** Resolves when every record given so far was written (LogTape's `Drainable`). */
  drain(): Promise<void>;
  /** The handler underneath, for its `stats`. */
  readonly handler: SocketHandler | DatagramHandler;
};

/** How a LogTape record becomes a Python record. */
export interface RecordOptions {
  /**
   * Renders a value interpolated into the message. Strings are written as
   * they are; other values by `Deno.inspect`, on one line.
   *
   * @default {undefined}
   */
  formatValue?: (value: unknown) => string;
  /**
   * Fills `pathname`, `lineno` and `funcName` from the log call's stack
   * frame (as CPython's `findCaller`) when the record has no
   * `sourceLocation`. Costs about 11 times what CPython's findCaller costs
   * (bench/results/caller.md), hence off by default. LogTape's own
   * `captureSourceLocation` is used whenever present.
   *
   * @default {false}
   */
  caller?: boolean;
}

/** Options of {@linkcode getSocketSink}. */
export interface SocketSinkOptions
  extends SocketAddress, SocketHandlerOptions, RecordOptions {}

/** Options of {@linkcode getDatagramSink}. */
export interface DatagramSinkOptions
  extends DatagramAddress, DatagramHandlerOptions, RecordOptions {}

function defaultFormatValue(value: unknown): string {
  return typeof value === "string" ? value : Deno.inspect(value, {
    colors: false,
    compact: true,
    breakLength: Infinity,
    strAbbreviateSize: Infinity,
    iterableLimit: Infinity,
  });
}

/**
 * Converts a LogTape record to a Python record: category `["app","db"]`
 * becomes name `app.db`, the rendered message `msg`, properties extra keys,
 * an `error` property `exc_text`, and levels trace→5 TRACE, debug→DEBUG,
 * info→INFO, warning→WARNING, error→ERROR, fatal→CRITICAL.
 *
 * @example Convert a record
 * ```ts
 * import { fromLogTapeRecord } from "@pysocklog/pysocklog/logtape";
 * import { equal } from "node:assert/strict";
 *
 * const init = fromLogTapeRecord({
 *   category: ["app", "db"],
 *   level: "warning",
 *   message: ["Slow query: ", 1200, " ms"],
 *   timestamp: Date.now(),
 *   properties: { ms: 1200 },
 * });
 * equal(init.name, "app.db");
 * equal(init.levelname, "WARNING");
 * equal(init.msg, "Slow query: 1200 ms");
 * ```
 *
 * @param record A LogTape record.
 * @param options How to render values and whether to find the caller.
 * @returns The Python record, with the properties as extra keys (one named
 *   like a standard key, `message` or `asctime` is kept under that name
 *   plus `_`).
 */
export function fromLogTapeRecord(
  record: LogTapeRecord,
  options: RecordOptions = {},
): LogRecordDict {
  const formatValue = options.formatValue ?? defaultFormatValue;
  const parts = record.message;
  let msg = "";
  for (let i = 0; i < parts.length; i++) {
    msg += i % 2 === 0 ? String(parts[i]) : formatValue(parts[i]);
  }
  const init: LogRecordInit = {
    name: record.category.length > 0 ? record.category.join(".") : "root",
    msg,
    // The record model's level table: warning -> 30 WARNING, fatal -> 50
    // CRITICAL, trace -> 5 TRACE.
    levelname: record.level,
    created: record.timestamp / 1000,
  };
  const where = record.sourceLocation;
  if (where !== undefined) {
    init.pathname = where.file;
    init.lineno = where.line;
  } else if (options.caller) {
    Object.assign(init, findCallerAbove(fromLogTapeRecord));
  }
  let extra = record.properties;
  const error = extra.error;
  if (error instanceof Error) {
    init.exc_info = error;
    extra = { ...extra };
    delete extra.error;
  }
  return makeLogRecord(init, toExtra(extra));
}

function makeSink(
  handler: SocketHandler | DatagramHandler,
  options: RecordOptions,
): PythonSink {
  const sink = ((record: LogTapeRecord) => {
    let converted: LogRecordDict;
    try {
      converted = fromLogTapeRecord(record, options);
    } catch (error) {
      handler.fail(undefined, error); // counted in stats.failed, reported
      return;
    }
    handler.handle(converted);
  }) as PythonSink;
  Object.defineProperty(sink, "handler", { value: handler });
  sink.drain = () => handler.flush();
  sink[Symbol.asyncDispose] = () => handler.close();
  return sink;
}

/**
 * A LogTape sink that sends each record to a Python `SocketHandler`
 * receiver over TCP (TLS with `tls`, or a Unix socket with `path`). It
 * never blocks the logging call: records are queued and written in
 * batches by one connection, which reconnects with CPython's backoff.
 * Dispose it (`await using`, or LogTape's `dispose()`) to flush.
 *
 * @example A sink to a receiver
 * ```ts
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { getSocketSink } from "@pysocklog/pysocklog/logtape";
 * import { equal } from "node:assert/strict";
 *
 * await using receiver = await listen({ port: 0 });
 * const { port } = receiver.addr as Deno.NetAddr;
 *
 * // What LogTape calls for each record (configure({ sinks: { python: sink } })).
 * await using sink = getSocketSink({ hostname: "127.0.0.1", port });
 * sink({
 *   category: ["app"],
 *   level: "error",
 *   message: ["lookup of ", "ann", " failed"],
 *   timestamp: Date.now(),
 *   properties: { user: "ann", error: new Error("timeout") },
 * });
 * await sink.drain();
 * equal(sink.handler.stats.sent, 1);
 * for await (const record of receiver) {
 *   equal(record.levelname, "ERROR");
 *   equal(record.msg, "lookup of ann failed");
 *   equal(record.user, "ann");
 *   equal((record.exc_text as string).split("\n")[0], "Error: timeout");
 *   break;
 * }
 * ```
 *
 * @param options Where to send, and the handler's options.
 * @returns The sink.
 */
export function getSocketSink(options: SocketSinkOptions = {}): PythonSink {
  const { formatValue, caller, ...rest } = options;
  return makeSink(socketHandlerAt(rest), { formatValue, caller });
}

/**
 * A LogTape sink that sends each record as one UDP datagram, as CPython's
 * `DatagramHandler` does. One socket serves every record.
 *
 * @example A UDP sink
 * ```ts
 * import { configure, getLogger, reset } from "@logtape/logtape";
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { getDatagramSink } from "@pysocklog/pysocklog/logtape";
 * import { equal } from "node:assert/strict";
 *
 * await using receiver = await listen({ transport: "udp", port: 0 });
 * const { port } = receiver.addr as Deno.NetAddr;
 *
 * await configure({
 *   sinks: { udp: getDatagramSink({ hostname: "127.0.0.1", port }) },
 *   loggers: [
 *     { category: ["edge"], sinks: ["udp"], lowestLevel: "debug" },
 *     { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
 *   ],
 * });
 * getLogger(["edge"]).warning("cache miss {key}", { key: "k1" });
 * await reset();
 *
 * for await (const record of receiver) {
 *   equal(record.levelname, "WARNING");
 *   equal(record.key, "k1");
 *   break;
 * }
 * ```
 *
 * @param options Where to send, and the handler's options.
 * @returns The sink.
 */
export function getDatagramSink(options: DatagramSinkOptions = {}): PythonSink {
  const { formatValue, caller, ...rest } = options;
  return makeSink(datagramHandlerAt(rest), { formatValue, caller });
}
