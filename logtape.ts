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
 * @example Log to a Python receiver with LogTape
 * ```ts ignore
 * import { configure, getLogger } from "@logtape/logtape";
 * import { getSocketSink } from "@pysocklog/pysocklog/logtape";
 *
 * await configure({
 *   sinks: { python: getSocketSink({ hostname: "localhost", port: 9020 }) },
 *   loggers: [{ category: ["app"], sinks: ["python"], lowestLevel: "info" }],
 * });
 * getLogger(["app", "db"]).info("Connected to {host}", { host: "db1" });
 * ```
 *
 * @module
 */

import {
  DatagramHandler,
  type DatagramHandlerOptions,
  SocketHandler,
  type SocketHandlerOptions,
} from "./mod.ts";
import {
  DEFAULT_TCP_LOGGING_PORT,
  DEFAULT_UDP_LOGGING_PORT,
  findCaller,
  type LogRecordDict,
  type LogRecordInit,
  makeLogRecord,
} from "./record.ts";

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
   * `sourceLocation`. Costs about 12 µs per record, against under 1 µs
   * for the rest of the record, hence off by default. LogTape's own
   * `captureSourceLocation` is used whenever present.
   *
   * @default {false}
   */
  caller?: boolean;
}

/** Options of {@linkcode getSocketSink}. */
export interface SocketSinkOptions extends SocketHandlerOptions, RecordOptions {
  /**
   * Host of the receiver.
   *
   * @default {"localhost"}
   */
  hostname?: string;
  /**
   * Port of the receiver.
   *
   * @default {9020}
   */
  port?: number;
  /**
   * A Unix socket path; when set, `hostname` and `port` are not used.
   *
   * @default {undefined}
   */
  path?: string;
}

/** Options of {@linkcode getDatagramSink}. */
export interface DatagramSinkOptions
  extends DatagramHandlerOptions, RecordOptions {
  /**
   * Host of the receiver.
   *
   * @default {"localhost"}
   */
  hostname?: string;
  /**
   * Port of the receiver.
   *
   * @default {9021}
   */
  port?: number;
}

const LEVELS: Readonly<Record<LogTapeLevel, number>> = {
  trace: 5,
  debug: 10,
  info: 20,
  warning: 30,
  error: 40,
  fatal: 50,
};

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
 * @returns The Python record, with the properties as extra keys (one that
 *   has a standard key's name is kept under that name plus `_`).
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
    levelno: LEVELS[record.level] ?? 0,
    created: record.timestamp / 1000,
  };
  const where = record.sourceLocation;
  if (where !== undefined) {
    init.pathname = where.file;
    init.lineno = where.line;
  } else if (options.caller) {
    Object.assign(init, findCaller());
  }
  let extra = record.properties;
  const error = extra.error;
  if (error instanceof Error) {
    init.exc_info = error;
    extra = { ...extra };
    delete extra.error;
  }
  return makeLogRecord(init, extra);
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
      handler.handleError(undefined, error);
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
 * @example A sink to the cookbook's receiver
 * ```ts ignore
 * import { configure } from "@logtape/logtape";
 * import { getSocketSink } from "@pysocklog/pysocklog/logtape";
 *
 * await configure({
 *   sinks: { python: getSocketSink({ port: 9020 }) },
 *   loggers: [{ category: [], sinks: ["python"] }],
 * });
 * ```
 *
 * @param options Where to send, and the handler's options.
 * @returns The sink.
 */
export function getSocketSink(options: SocketSinkOptions = {}): PythonSink {
  const {
    hostname = "localhost",
    port = DEFAULT_TCP_LOGGING_PORT,
    path,
    ...rest
  } = options;
  const handler = path !== undefined
    ? new SocketHandler(path, null, rest)
    : new SocketHandler(hostname, port, rest);
  return makeSink(handler, options);
}

/**
 * A LogTape sink that sends each record as one UDP datagram, as CPython's
 * `DatagramHandler` does. One socket serves every record.
 *
 * @example A UDP sink
 * ```ts ignore
 * import { configure } from "@logtape/logtape";
 * import { getDatagramSink } from "@pysocklog/pysocklog/logtape";
 *
 * await configure({
 *   sinks: { udp: getDatagramSink({ port: 9021 }) },
 *   loggers: [{ category: [], sinks: ["udp"] }],
 * });
 * ```
 *
 * @param options Where to send, and the handler's options.
 * @returns The sink.
 */
export function getDatagramSink(options: DatagramSinkOptions = {}): PythonSink {
  const { hostname = "localhost", port = DEFAULT_UDP_LOGGING_PORT, ...rest } =
    options;
  return makeSink(new DatagramHandler(hostname, port, rest), options);
}
