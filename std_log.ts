// Copyright the pysocklog authors. MIT license.
/**
 * @std/log handlers that send records in Python's `SocketHandler` wire
 * format: `SocketHandler` (TCP, TLS, Unix socket) and `DatagramHandler`
 * (UDP). They extend @std/log's `BaseHandler` (0.224.14) and are built like
 * its own handlers, so `log.setup({ handlers: { net } })` takes them.
 *
 * What the Python side sees: `name` is the logger name; `levelname` is
 * std/log's level name (`WARN` becomes `WARNING`); `msg` is the text std/log
 * would print without its level prefix (the formatter's output when you set
 * one). Of std/log's args, a plain object spreads into extra keys, as
 * Python's `extra=` (a key that is a standard one, such as `name`, is kept
 * as `name_`); the first Error becomes `exc_text`; the others are kept, in
 * order, under the extra key `args_`.
 *
 * Permissions: `--allow-net`; for a Unix socket `path`, `--allow-read
 * --allow-write`.
 *
 * @example Log to a receiver with @std/log
 * ```ts
 * import * as log from "@std/log";
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { SocketHandler } from "@pysocklog/pysocklog/std-log";
 * import { equal, match } from "node:assert/strict";
 *
 * // A receiver on a free port; a Python one on 9020 sees the same records.
 * await using receiver = await listen({ port: 0 });
 * const { port } = receiver.addr as Deno.NetAddr;
 *
 * const net = new SocketHandler("INFO", { hostname: "127.0.0.1", port });
 * log.setup({
 *   handlers: { net },
 *   loggers: { default: { level: "DEBUG", handlers: ["net"] } },
 * });
 * log.warn("disk almost full", { free: "2%" }, new Error("ENOSPC"), 3);
 * await net.close();
 *
 * for await (const record of receiver) {
 *   equal(record.levelname, "WARNING");
 *   equal(record.msg, "disk almost full");
 *   equal(record.free, "2%"); // Python: record.free
 *   match(record.exc_text as string, /^Error: ENOSPC/);
 *   equal((record.args_ as unknown[])[0], 3);
 *   break;
 * }
 * ```
 *
 * @module
 */

import {
  BaseHandler,
  type BaseHandlerOptions,
  type FormatterFunction,
  type LevelName,
  StdLogger,
  type StdLogRecord,
} from "./deps.ts";
import type { Handler as CoreHandler } from "./handlers/handler.ts";
import type {
  SocketHandler as CoreSocketHandler,
  SocketHandlerOptions,
} from "./handlers/socket.ts";
import type {
  DatagramHandler as CoreDatagramHandler,
  DatagramHandlerOptions,
} from "./handlers/datagram.ts";
import {
  findCallerAbove,
  type LogRecordDict,
  makeLogRecord,
} from "./record.ts";
import {
  type DatagramAddress,
  datagramHandlerAt,
  type SocketAddress,
  socketHandlerAt,
  toExtra,
} from "./adapters/_shared.ts";

// The types these handlers' signatures use, re-exported so that the
// documentation of this entry is complete on its own.
export {
  BaseHandler,
  type BaseHandlerOptions,
  type FormatterFunction,
  type LevelName,
  type StdLogRecord,
} from "./deps.ts";
export type {
  DatagramHandler as CoreDatagramHandler,
  DatagramHandlerOptions,
  Filter,
  FrameBatch,
  Handler as CoreHandler,
  HandlerOptions,
  HandlerStats,
  Level,
  LogRecordDict,
  LogRecordFields,
  LogRecordInit,
  SocketHandler as CoreSocketHandler,
  SocketHandlerOptions,
  TlsOptions,
} from "./mod.ts";
export type { DatagramAddress, SocketAddress } from "./adapters/_shared.ts";

/** Options shared by both handlers. */
export interface StdLogHandlerOptions extends BaseHandlerOptions {
  /**
   * Fills `pathname`, `lineno` and `funcName` from the log call's stack
   * frame, as CPython's `findCaller`. Costs about 10 times what CPython's
   * findCaller costs (bench/results/caller.md), hence off by default.
   *
   * @default {false}
   */
  caller?: boolean;
}

/** Options of the std/log {@linkcode SocketHandler}. */
export interface StdLogSocketHandlerOptions
  extends
    StdLogHandlerOptions,
    SocketAddress,
    Omit<SocketHandlerOptions, "level"> {}

/** Options of the std/log {@linkcode DatagramHandler}. */
export interface StdLogDatagramHandlerOptions
  extends
    StdLogHandlerOptions,
    DatagramAddress,
    Omit<DatagramHandlerOptions, "level"> {}

/** Whether `value` is a plain object (`{...}`, or one without prototype). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * std/log's Logger method for each of its levels (10 DEBUG to 50
 * CRITICAL): the caller's frame is the one past it, so findCaller captures
 * none of std/log's frames (each costs about 0.6 µs).
 */
const LOG_CALLS = new Map<number, (...args: never[]) => unknown>([
  [10, StdLogger.prototype.debug],
  [20, StdLogger.prototype.info],
  [30, StdLogger.prototype.warn],
  [40, StdLogger.prototype.error],
  [50, StdLogger.prototype.critical],
]);

/** Where findCaller starts looking for a std/log record's log call. */
function logCallOf(level: number): (...args: never[]) => unknown {
  return LOG_CALLS.get(level) ?? CoreHandlerAdapter.prototype.handle;
}

/**
 * Converts a std/log record to a Python record. Of std/log's args, the
 * first Error becomes `exc_text`; plain objects spread into extra keys (a
 * later one wins a key; a reserved key is kept under its name plus `_`);
 * the others stay, in order, under the extra key `args_`.
 *
 * @param record The std/log record.
 * @param msg The message text to send.
 * @param caller Whether to find the log call's frame.
 */
function toPython(
  record: StdLogRecord,
  msg: string,
  caller: boolean,
): LogRecordDict {
  const init = {
    name: record.loggerName,
    msg,
    levelno: record.level,
    levelname: record.levelName,
    created: record.datetime,
    ...(caller ? findCallerAbove(logCallOf(record.level)) : undefined),
  };
  const args = record.args;
  if (args.length === 0) return makeLogRecord(init);
  let error: Error | undefined;
  let extra: Record<string, unknown> | undefined;
  let rest: unknown[] | undefined;
  for (const arg of args) {
    if (error === undefined && arg instanceof Error) {
      error = arg;
    } else if (isPlainObject(arg)) {
      // No prototype: a "__proto__" key is data here.
      extra ??= Object.create(null) as Record<string, unknown>;
      for (const key of Object.keys(arg)) extra[key] = arg[key];
    } else {
      (rest ??= []).push(arg);
    }
  }
  if (rest !== undefined) {
    extra ??= Object.create(null) as Record<string, unknown>;
    let key = "args_";
    while (Object.hasOwn(extra, key)) key += "_";
    extra[key] = rest;
  }
  return makeLogRecord(
    error === undefined ? init : { ...init, exc_info: error },
    extra === undefined ? undefined : toExtra(extra),
  );
}

/**
 * What both std/log handlers are: a std/log `BaseHandler` that hands each
 * record, as CPython's `LogRecord` dict, to a core handler (`handler`),
 * which queues and sends it. Not made directly: use
 * {@linkcode SocketHandler} or {@linkcode DatagramHandler}.
 *
 * @example Read what the core handler did
 * ```ts
 * import * as log from "@std/log";
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { SocketHandler } from "@pysocklog/pysocklog/std-log";
 * import { equal } from "node:assert/strict";
 *
 * await using receiver = await listen({ port: 0 });
 * const { port } = receiver.addr as Deno.NetAddr;
 * await using net = new SocketHandler("INFO", { hostname: "127.0.0.1", port });
 * log.setup({
 *   handlers: { net },
 *   loggers: { app: { level: "INFO", handlers: ["net"] } },
 * });
 * log.getLogger("app").info("ready");
 * await net.flush();
 * equal(net.handler.stats.sent, 1);
 * ```
 */
export abstract class CoreHandlerAdapter<H extends CoreHandler>
  extends BaseHandler
  implements AsyncDisposable {
  #handler: H;
  /** Makes a new core handler: `setup()` after `destroy()` or `close()`. */
  #remake: (() => H) | undefined;
  #closed = false;
  #ownFormatter: boolean;
  #caller: boolean;

  /**
   * Wraps a core handler.
   *
   * @param levelName The lowest std/log level it sends.
   * @param formatter std/log's formatter, if the user gave one.
   * @param caller Whether to find the log call's frame.
   * @param handler The core handler.
   * @param remake Makes another one like it, for `setup()` after `destroy()`.
   */
  constructor(
    levelName: LevelName,
    formatter: FormatterFunction | undefined,
    caller: boolean,
    handler: H,
    remake?: () => H,
  ) {
    super(levelName, formatter === undefined ? {} : { formatter });
    this.#ownFormatter = formatter !== undefined;
    this.#caller = caller;
    this.#handler = handler;
    this.#remake = remake;
  }

  /**
   * The core handler that does the sending (its `stats` say what it did);
   * a new one after `setup()` reopened a closed handler.
   */
  get handler(): H {
    return this.#handler;
  }

  /**
   * What std/log calls when it takes the handler (`log.setup`): after
   * `destroy()` or `close()`, a new core handler (new `stats`) connects, as
   * std/log's `FileHandler` reopens its file. `log.setup()` run again with
   * the same handler destroys it first: without this, every record after
   * it was dropped.
   */
  override setup(): void {
    if (!this.#closed || this.#remake === undefined) return;
    this.#closed = false;
    this.#handler = this.#remake();
  }

  /**
   * Sends the record when its level is at least the handler's. Never
   * throws: a record that cannot be converted (a formatter or an
   * argument that throws) is counted in `stats.failed` and reported.
   *
   * @param logRecord A std/log record.
   */
  override handle(logRecord: StdLogRecord): void {
    if (this.level > logRecord.level) return;
    let record: LogRecordDict;
    try {
      // Without a formatter of the user's, std/log would print "LEVEL msg":
      // the Python side has the level already, so send the message alone.
      const msg = this.#ownFormatter ? this.format(logRecord) : logRecord.msg;
      record = toPython(logRecord, msg, this.#caller);
    } catch (error) {
      // A formatter or an argument's getter that throws must not throw
      // into the log call: counted failed and reported, as CPython's emit.
      this.handler.fail(undefined, error);
      return;
    }
    this.handler.handle(record);
  }

  /**
   * Sends one formatted line as a record of its own (std/log's handler
   * contract); `handle()` is what std/log calls.
   *
   * @param msg The text.
   */
  log(msg: string): void {
    this.handler.handle(makeLogRecord({ msg, levelno: this.level }));
  }

  /** Resolves when every record so far was written. */
  flush(): Promise<void> {
    return this.handler.flush();
  }

  /** Flushes (bounded by `closeTimeout`) and closes the socket. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#handler.close();
  }

  /** Starts `close()`; std/log's `destroy()` cannot wait for it. */
  override destroy(): void {
    void this.close();
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * A std/log handler that sends records over TCP (TLS with `tls`, a Unix
 * socket with `path`) to a Python `SocketHandler` receiver. Logging never
 * blocks: records are queued and written in batches, and the connection
 * comes back by itself with CPython's backoff. `destroy()` (called by
 * `log.setup` when it replaces handlers) flushes and closes; `await
 * handler.close()` does the same and tells you when it is done.
 *
 * @example Set it up
 * ```ts
 * import * as log from "@std/log";
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { SocketHandler } from "@pysocklog/pysocklog/std-log";
 * import { equal } from "node:assert/strict";
 *
 * await using receiver = await listen({ port: 0 });
 * const { port } = receiver.addr as Deno.NetAddr;
 *
 * const net = new SocketHandler("INFO", { hostname: "127.0.0.1", port });
 * log.setup({
 *   handlers: { net },
 *   loggers: { db: { level: "INFO", handlers: ["net"] } },
 * });
 * log.getLogger("db").info("connected", { host: "db1" });
 * await net.close();
 *
 * for await (const record of receiver) {
 *   equal(record.name, "db");
 *   equal(record.host, "db1");
 *   break;
 * }
 * ```
 */
export class SocketHandler extends CoreHandlerAdapter<CoreSocketHandler> {
  /**
   * Builds the handler; it starts connecting at once.
   *
   * @param levelName The lowest std/log level it sends.
   * @param options Where to send, the formatter, and the core handler's options.
   */
  constructor(levelName: LevelName, options: StdLogSocketHandlerOptions = {}) {
    const { formatter, caller = false, ...rest } = options;
    super(
      levelName,
      formatter,
      caller,
      socketHandlerAt(rest),
      () => socketHandlerAt(rest),
    );
  }
}

/**
 * A std/log handler that sends each record as one UDP datagram, as
 * CPython's `DatagramHandler` does.
 *
 * @example Set it up
 * ```ts
 * import * as log from "@std/log";
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { DatagramHandler } from "@pysocklog/pysocklog/std-log";
 * import { equal } from "node:assert/strict";
 *
 * await using receiver = await listen({ transport: "udp", port: 0 });
 * const { port } = receiver.addr as Deno.NetAddr;
 *
 * const udp = new DatagramHandler("DEBUG", { hostname: "127.0.0.1", port });
 * log.setup({
 *   handlers: { udp },
 *   loggers: { default: { level: "DEBUG", handlers: ["udp"] } },
 * });
 * log.debug("tick");
 * await udp.close();
 *
 * for await (const record of receiver) {
 *   equal(record.msg, "tick");
 *   break;
 * }
 * ```
 */
export class DatagramHandler extends CoreHandlerAdapter<CoreDatagramHandler> {
  /**
   * Builds the handler.
   *
   * @param levelName The lowest std/log level it sends.
   * @param options Where to send, the formatter, and the core handler's options.
   */
  constructor(
    levelName: LevelName,
    options: StdLogDatagramHandlerOptions = {},
  ) {
    const { formatter, caller = false, ...rest } = options;
    super(
      levelName,
      formatter,
      caller,
      datagramHandlerAt(rest),
      () => datagramHandlerAt(rest),
    );
  }
}
