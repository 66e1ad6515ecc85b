// Copyright the pysocklog authors. MIT license.
/**
 * What a handler is told and tells: its options (those every handler
 * takes, and SocketHandler's), the checks made on them up front, its
 * statistics, and the errors of its send path. The handlers themselves are
 * in handler.ts, socket.ts and datagram.ts.
 *
 * @module
 */

import type { Level, LogRecordDict } from "../record.ts";

/** A filter: return `false` to drop the record. */
export type Filter = (record: LogRecordDict) => boolean;

/** Options every handler takes. */
export interface HandlerOptions {
  /**
   * The lowest level handled, as a number or a name (`"INFO"`, `"warn"`).
   *
   * @default {0}
   */
  level?: Level;
  /**
   * Filters; a record is handled when every filter returns true.
   *
   * @default {[]}
   */
  filters?: Filter[];
  /**
   * Most records the queue holds; past this, the `overflow` policy applies.
   * The bound that matters is `maxQueueBytes`: this one only caps the
   * bookkeeping (about 24 bytes a record beside its frame).
   *
   * @default {1_000_000}
   */
  maxQueueRecords?: number;
  /**
   * Most bytes of frames the queue holds. A record whose frame alone is
   * larger is refused (reported and counted as failed). Sized for bursts:
   * Deno polls sockets about once every 57 event-loop turns, so a caller
   * that logs thousands of records a turn outruns the socket for a while;
   * 64 MiB holds about 200,000 records of 330 bytes.
   *
   * @default {67_108_864}
   */
  maxQueueBytes?: number;
  /**
   * What a full queue does with a new record: `"drop-newest"` refuses it
   * (the records already waiting keep their order and go first);
   * `"drop-oldest"` makes room by discarding the oldest waiting records.
   * Either way `stats.dropped` counts them and a drop notice tells the
   * receiver.
   *
   * @default {"drop-newest"}
   */
  overflow?: "drop-newest" | "drop-oldest";
  /**
   * Most bytes written in one write: frames are joined up to this size
   * (larger writes go partial on loopback and wait for the next I/O poll).
   *
   * @default {65_536}
   */
  maxBatchBytes?: number;
  /**
   * How long `close()` waits for queued records to be written, in ms (the
   * retry timer keeps reconnecting meanwhile); what is still queued then is
   * dropped, counted and reported. `Infinity` (or anything past 2^31-1 ms,
   * 24.8 days) waits without a bound, as `flush()` does: a program that
   * awaits `close()` then runs until the receiver takes the records.
   *
   * @default {5_000}
   */
  closeTimeout?: number;
  /**
   * Milliseconds a program that has finished (or calls `Deno.exit`) keeps
   * running while queued records make no progress: a receiver that is down
   * or has stopped reading. Records still queued then are dropped, counted
   * and reported. An idle handler never keeps a program alive.
   *
   * @default {2_000}
   */
  exitTimeout?: number;
  /**
   * Whether records dropped after being accepted (queue full, closing,
   * `dropWhileDown`, a failed send) are announced to the receiver: before
   * the next frame, one record named `pysocklog` at WARNING with `msg`
   * `"<N> log records were dropped (<reason>)"` and extra keys `dropped`
   * (N) and `reason`.
   *
   * @default {true}
   */
  dropNotices?: boolean;
  /**
   * Fill `pathname`, `lineno` and `funcName` of records that lack them from
   * the stack frame of the log call, as CPython's `findCaller` does. Off
   * unless asked for: it adds about 4.4 times what the rest of a varied
   * record costs, 10 times CPython's findCaller (bench/results/caller.md),
   * nearly all of it Deno's floor for one frame: V8 captures at least 10
   * frames, Deno wraps the caller's and maps it through the source map.
   *
   * @default {false}
   */
  caller?: boolean;
  /**
   * Called with each error the handler would report, instead of writing
   * to stderr. Errors it throws are ignored.
   *
   * @default {undefined}
   */
  onError?: (error: unknown, record?: LogRecordDict) => void;
}

/** Options of {@linkcode Handler.flush}. */
export interface FlushOptions {
  /**
   * Most milliseconds to wait; `flush` then resolves `false`. `Infinity`
   * (or anything past 2^31-1 ms, 24.8 days) is no bound.
   *
   * @default {undefined}
   */
  timeout?: number;
  /**
   * Gives up when aborted; `flush` then resolves `false`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * What a handler has done so far. Every record emitted is sent, dropped,
 * failed or still queued: `emitted = sent + dropped + failed + queued`.
 */
export interface HandlerStats {
  /**
   * Records given to `emit()` (after level and filters; a record that
   * cannot be made or filtered counts too, as failed).
   */
  emitted: number;
  /** Records written to the transport (drop notices not counted). */
  sent: number;
  /**
   * Records discarded: queue full, handler closing or closed, down with
   * `dropWhileDown`, a failed datagram, or still queued at `closeTimeout`
   * or at exit.
   */
  dropped: number;
  /** Records that could not be encoded or framed. */
  failed: number;
  /** Records waiting in the queue (or being written). */
  queued: number;
  /** Bytes of the records waiting in the queue (or being written). */
  queuedBytes: number;
  /** Drop notices written to the transport. */
  notices: number;
  /** Connections made after a lost or failed one. */
  reconnects: number;
  /** Whether the transport is open now. */
  connected: boolean;
}

export const DEFAULT_MAX_QUEUE_RECORDS = 1_000_000;
export const DEFAULT_MAX_QUEUE_BYTES = 128 * 1024 * 1024;
export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024;
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
export const DEFAULT_EXIT_TIMEOUT_MS = 2_000;
/**
 * The longest delay `setTimeout` keeps (2^31-1 ms, 24.8 days): a longer
 * one fires after 1 ms.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export const EMPTY_BYTES = new Uint8Array(0);
/** How often a finished program checks on the records it waits for, in ms. */
export const EXIT_POLL_MS = 50;
/** Pause before writing a drop notice again after it failed, in ms. */
export const NOTICE_RETRY_MS = 100;
/** The logger name of drop notices. */
export const NOTICE_NAME = "pysocklog";
/** WARNING: the level of drop notices. */
export const NOTICE_LEVEL = 30;

/**
 * A write that failed after `sent` whole frames of its batch went out:
 * what a {@linkcode Handler} subclass's `transmit` throws. The frames not
 * written are written again on the next connection, or dropped (counted
 * and announced) when `drop` is true.
 *
 * @example A transport that writes whole frames, one at a time
 * ```ts
 * import { type FrameBatch, TransmitError } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * async function transmit(
 *   batch: FrameBatch,
 *   write: (frame: Uint8Array) => Promise<void>,
 * ): Promise<void> {
 *   let pos = 0;
 *   for (let i = 0; i < batch.lengths.length; i++) {
 *     try {
 *       await write(batch.data.subarray(pos, pos + batch.lengths[i]));
 *     } catch (error) {
 *       throw new TransmitError(i, error);
 *     }
 *     pos += batch.lengths[i];
 *   }
 * }
 *
 * const batch = { data: new Uint8Array(6), lengths: [2, 4] };
 * const error = await transmit(batch, (f) =>
 *   f.length === 4 ? Promise.reject(new Error("lost")) : Promise.resolve()
 * ).catch((e) => e);
 * equal(error.sent, 1);
 * equal(error.drop, false);
 * ```
 */
export class TransmitError extends Error {
  /** Whole frames written before the failure. */
  readonly sent: number;
  /** Whether the frames not written should be dropped rather than retried. */
  readonly drop: boolean;
  /**
   * Makes the error.
   *
   * @param sent Whole frames written before the failure.
   * @param cause What failed.
   * @param drop Whether the frames not written are to be dropped.
   */
  constructor(sent: number, cause: unknown, drop = false) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "TransmitError";
    this.sent = sent;
    this.drop = drop;
  }
}

/**
 * Throws a RangeError unless `value` is a number above 0 (or at least 0
 * when `zero`), as std's `retry()` checks its options.
 */
export function checkPositive(name: string, value: number, zero = false) {
  if (typeof value !== "number" || !(zero ? value >= 0 : value > 0)) {
    throw new RangeError(
      `${name} must be ${zero ? "at least 0" : "above 0"}: received ${
        shown(value)
      }`,
    );
  }
}

/**
 * Throws a TypeError unless `value` is a boolean or undefined: `"false"`
 * (read from an environment variable, say) would otherwise mean true.
 */
export function checkBoolean(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw new TypeError(`${name} must be a boolean: received ${shown(value)}`);
  }
}

/**
 * A value as an error message quotes it: a number as itself, a string in
 * quotes and said to be one (`"9020" (a string)`), anything else by type.
 */
export function shown(value: unknown): string {
  switch (typeof value) {
    case "number":
    case "bigint":
    case "boolean":
    case "undefined":
      return String(value);
    case "string":
      return `${JSON.stringify(value.slice(0, 40))} (a string)`;
    default:
      return value === null ? "null" : `a ${typeof value}`;
  }
}

/**
 * Throws a RangeError unless `port` is a port a peer can listen on and
 * `host` is not empty.
 */
export function checkAddress(host: string, port: number | null): void {
  if (typeof host !== "string" || host === "") {
    throw new RangeError(
      `host must be a non-empty string: received ${
        typeof host === "string" ? '""' : shown(host)
      }`,
    );
  }
  if (port === null) {
    // sun_path holds 108 bytes on Linux, 104 on macOS, with the NUL: Deno
    // refused a longer path at each attempt ("shorter than SUN_LEN").
    const bytes = new TextEncoder().encode(host).length;
    if (bytes > MAX_UNIX_PATH_BYTES) {
      throw new RangeError(
        `Unix socket path is ${bytes} bytes; at most ${MAX_UNIX_PATH_BYTES} fit (the OS's sun_path)`,
      );
    }
    return;
  }
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new RangeError(
      `port must be an integer from 1 to 65535: received ${shown(port)}`,
    );
  }
}

/** Most bytes of a Unix socket path (sun_path less its NUL). */
export const MAX_UNIX_PATH_BYTES = Deno.build.os === "darwin" ? 103 : 107;

/**
 * An error that says records were dropped: reported without a stack. Its
 * name is the kind reports are rate-limited by.
 */
export function dropReport(text: string, name = "DroppedRecords"): Error {
  const error = new Error(text);
  error.name = name;
  error.stack = `${name}: ${text}`;
  return error;
}

/** What kind of error this is, for rate-limiting reports per kind. */
export function errorKind(error: unknown): string {
  if (!(error instanceof Error)) return "other";
  if (error.message.startsWith("failed to lookup address")) return "lookup";
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? `${error.name}:${code}` : error.name;
}

/** TLS settings of a {@linkcode SocketHandler}. */
export interface TlsOptions {
  /**
   * PEM certificates of the CAs to trust, besides the system's. The
   * receiver's certificate is always verified.
   *
   * @default {undefined}
   */
  caCerts?: string[];
  /**
   * The name the certificate must carry, when it is not `host`.
   *
   * @default {undefined}
   */
  hostname?: string;
}

/**
 * CPython's retry options (`createSocket`'s backoff), for SocketHandler's
 * connections and DatagramHandler's socket.
 */
export interface RetryOptions {
  /**
   * Seconds before the first retry after a failed attempt to open the
   * socket (a refused connection; for UDP, a failed lookup).
   *
   * @default {1}
   */
  retryStart?: number;
  /**
   * Most seconds between retries.
   *
   * @default {30}
   */
  retryMax?: number;
  /**
   * What each further failure multiplies the wait by.
   *
   * @default {2}
   */
  retryFactor?: number;
}

/** Options of {@linkcode SocketHandler}. */
export interface SocketHandlerOptions extends HandlerOptions, RetryOptions {
  /**
   * CPython's `closeOnError`: a socket error closes the socket silently and
   * the next attempt reopens it. When false, socket errors are reported
   * through `handleError` too.
   *
   * @default {true}
   */
  closeOnError?: boolean;
  /**
   * CPython's behaviour while the receiver is down: records emitted after a
   * failed connection attempt, until a connection succeeds, are dropped
   * (and counted) instead of queued.
   *
   * @default {false}
   */
  dropWhileDown?: boolean;
  /**
   * Connect with TLS (`true`, or settings). The certificate is verified.
   *
   * @default {false}
   */
  tls?: boolean | TlsOptions;
  /**
   * Milliseconds one connection attempt may take (CPython's `makeSocket`
   * timeout is 1 s); at most 2^31-1.
   *
   * @default {1_000}
   */
  connectTimeout?: number;
  /**
   * Do the socket I/O in a Worker. Deno polls a busy thread's sockets only
   * about once every 57 event-loop turns, so a program that logs thousands
   * of records a turn outruns a socket of its own thread; a Worker's idle
   * loop writes as soon as the socket can take more. Records go to it
   * through an 8 MiB shared ring; what a lost connection leaves in the ring
   * is sent again on the next connection. Used only with the default
   * `makeSocket`, `makePickle` and `send`, and when the program may read
   * this module's files (`--allow-read`: Deno's `node:worker_threads`
   * checks it); otherwise the I/O stays in the handler's thread.
   *
   * @default {true}
   */
  ioWorker?: boolean;
}
