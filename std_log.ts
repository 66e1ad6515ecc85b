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
 * one); std/log's args are kept under the extra key `args_`; the first Error
 * among them becomes `exc_text`.
 *
 * Permissions: `--allow-net`; for a Unix socket `path`, `--allow-read
 * --allow-write`.
 *
 * @example Log to a Python receiver with @std/log
 * ```ts ignore
 * import * as log from "@std/log";
 * import { SocketHandler } from "@pysocklog/pysocklog/std-log";
 *
 * log.setup({
 *   handlers: { net: new SocketHandler("INFO", { hostname: "localhost", port: 9020 }) },
 *   loggers: { default: { level: "DEBUG", handlers: ["net"] } },
 * });
 * log.warn("disk almost full", { free: "2%" });
 * ```
 *
 * @module
 */

import {
  BaseHandler,
  type BaseHandlerOptions,
  type FormatterFunction,
  type LevelName,
  type StdLogRecord,
} from "./deps.ts";
import {
  DatagramHandler as CoreDatagramHandler,
  type DatagramHandlerOptions,
  type Handler as CoreHandler,
  SocketHandler as CoreSocketHandler,
  type SocketHandlerOptions,
} from "./mod.ts";

// The @std/log types these handlers' signatures use, re-exported so that
// the documentation of this entry is complete.
export {
  BaseHandler,
  type BaseHandlerOptions,
  type FormatterFunction,
  type LevelName,
  type StdLogRecord,
} from "./deps.ts";
import {
  DEFAULT_TCP_LOGGING_PORT,
  DEFAULT_UDP_LOGGING_PORT,
  findCaller,
  type LogRecordDict,
  makeLogRecord,
} from "./record.ts";

/** Options shared by both handlers. */
export interface StdLogHandlerOptions extends BaseHandlerOptions {
  /**
   * Host of the receiver.
   *
   * @default {"localhost"}
   */
  hostname?: string;
  /**
   * Fills `pathname`, `lineno` and `funcName` from the log call's stack
   * frame, as CPython's `findCaller`. Costs about 12 µs per record, against
   * under 1 µs for the rest, hence off by default.
   *
   * @default {false}
   */
  caller?: boolean;
}

/** Options of the std/log {@linkcode SocketHandler}. */
export interface StdLogSocketHandlerOptions
  extends StdLogHandlerOptions, Omit<SocketHandlerOptions, "level"> {
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

/** Options of the std/log {@linkcode DatagramHandler}. */
export interface StdLogDatagramHandlerOptions
  extends StdLogHandlerOptions, Omit<DatagramHandlerOptions, "level"> {
  /**
   * Port of the receiver.
   *
   * @default {9021}
   */
  port?: number;
}

/**
 * Converts a std/log record to a Python record.
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
  const args = record.args;
  const error = args.find((a) => a instanceof Error);
  return makeLogRecord({
    name: record.loggerName,
    msg,
    levelno: record.level,
    levelname: record.levelName,
    created: record.datetime,
    exc_info: error,
    ...(caller ? findCaller() : undefined),
  }, args.length > 0 ? { args } : undefined);
}

/**
 * What both std/log handlers are: a std/log `BaseHandler` that hands each
 * record, as CPython's `LogRecord` dict, to a core handler (`handler`),
 * which queues and sends it. Not made directly: use
 * {@linkcode SocketHandler} or {@linkcode DatagramHandler}.
 *
 * @example Read what the core handler did
 * ```ts ignore
 * import { SocketHandler } from "@pysocklog/pysocklog/std-log";
 *
 * const net = new SocketHandler("INFO", { port: 9020 });
 * await net.flush();
 * console.log(net.handler.stats.sent);
 * ```
 */
export abstract class CoreHandlerAdapter<H extends CoreHandler>
  extends BaseHandler
  implements AsyncDisposable {
  /** The core handler that does the sending (its `stats` say what it did). */
  readonly handler: H;
  #ownFormatter: boolean;
  #caller: boolean;

  /**
   * Wraps a core handler.
   *
   * @param levelName The lowest std/log level it sends.
   * @param formatter std/log's formatter, if the user gave one.
   * @param caller Whether to find the log call's frame.
   * @param handler The core handler.
   */
  constructor(
    levelName: LevelName,
    formatter: FormatterFunction | undefined,
    caller: boolean,
    handler: H,
  ) {
    super(levelName, formatter === undefined ? {} : { formatter });
    this.#ownFormatter = formatter !== undefined;
    this.#caller = caller;
    this.handler = handler;
  }

  /**
   * Sends the record when its level is at least the handler's.
   *
   * @param logRecord A std/log record.
   */
  override handle(logRecord: StdLogRecord): void {
    if (this.level > logRecord.level) return;
    // Without a formatter of the user's, std/log would print "LEVEL msg":
    // the Python side has the level already, so send the message alone.
    const msg = this.#ownFormatter ? this.format(logRecord) : logRecord.msg;
    this.handler.handle(toPython(logRecord, msg, this.#caller));
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
    return this.handler.close();
  }

  /** Starts `close()`; std/log's `destroy()` cannot wait for it. */
  override destroy(): void {
    void this.handler.close();
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
 * ```ts ignore
 * import * as log from "@std/log";
 * import { SocketHandler } from "@pysocklog/pysocklog/std-log";
 *
 * const net = new SocketHandler("INFO", { hostname: "logs.internal", port: 9020 });
 * log.setup({ handlers: { net }, loggers: { default: { level: "INFO", handlers: ["net"] } } });
 * log.info("ready");
 * await net.close();
 * ```
 */
export class SocketHandler extends CoreHandlerAdapter<CoreSocketHandler> {
  /**
   * Builds the handler; it connects when the first record comes.
   *
   * @param levelName The lowest std/log level it sends.
   * @param options Where to send, the formatter, and the core handler's options.
   */
  constructor(levelName: LevelName, options: StdLogSocketHandlerOptions = {}) {
    const {
      formatter,
      hostname = "localhost",
      port = DEFAULT_TCP_LOGGING_PORT,
      path,
      caller = false,
      ...rest
    } = options;
    super(
      levelName,
      formatter,
      caller,
      path !== undefined
        ? new CoreSocketHandler(path, null, rest)
        : new CoreSocketHandler(hostname, port, rest),
    );
  }
}

/**
 * A std/log handler that sends each record as one UDP datagram, as
 * CPython's `DatagramHandler` does.
 *
 * @example Set it up
 * ```ts ignore
 * import * as log from "@std/log";
 * import { DatagramHandler } from "@pysocklog/pysocklog/std-log";
 *
 * const udp = new DatagramHandler("DEBUG", { hostname: "localhost", port: 9021 });
 * log.setup({ handlers: { udp }, loggers: { default: { level: "DEBUG", handlers: ["udp"] } } });
 * log.debug("tick");
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
    const {
      formatter,
      hostname = "localhost",
      port = DEFAULT_UDP_LOGGING_PORT,
      caller = false,
      ...rest
    } = options;
    super(
      levelName,
      formatter,
      caller,
      new CoreDatagramHandler(hostname, port, rest),
    );
  }
}
