// Copyright the pysocklog authors. MIT license.
/**
 * A safe receiver for Python's `SocketHandler` and `DatagramHandler` wire
 * format: Deno stands where the logging cookbook's socket server stands,
 * without `pickle.loads`. Frames are decoded by {@linkcode loads}, which
 * executes nothing; a bad frame is dropped (and, when the stream is out of
 * step, its connection), never the receiver.
 *
 * Permissions: `--allow-net` (TCP, UDP); `--allow-read --allow-write` for a
 * Unix socket `path`.
 *
 * @example Receive records from Python's SocketHandler
 * ```ts
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { equal } from "node:assert/strict";
 *
 * // Port 9020 is where Python's SocketHandler sends; here, a free port.
 * await using receiver = await listen({ port: 0 });
 * const { port } = receiver.addr as Deno.NetAddr;
 * const python = new Deno.Command("python3", {
 *   args: ["-c", `import logging, logging.handlers
 * h = logging.handlers.SocketHandler("127.0.0.1", ${port})
 * logging.getLogger("py").addHandler(h)
 * logging.getLogger("py").warning("hello from %s", "Python")
 * h.close()`],
 * }).spawn();
 * for await (const record of receiver) {
 *   equal(`${record.levelname} ${record.name} ${record.msg}`, "WARNING py hello from Python");
 *   break;
 * }
 * await python.status;
 * ```
 *
 * @module
 */

import type { LoadsOptions } from "./pickle/decode.ts";
import {
  DEFAULT_TCP_LOGGING_PORT,
  DEFAULT_UDP_LOGGING_PORT,
  type LogRecordFields,
} from "./record.ts";
import { ReceiverImpl } from "./receiver/_receiver.ts";
import type { UdpPath } from "./receiver/_udp.ts";

export type { UdpPath } from "./receiver/_udp.ts";
export {
  DEFAULT_FRAME_TIMEOUT,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_BUFFERED_RECORDS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_FRAME_BYTES,
} from "./receiver/_limits.ts";
export { formatAddr } from "./receiver/_addr.ts";

/**
 * A record as a sender pickled it: the attribute dict of a Python
 * `LogRecord` (CPython's handlers send every attribute; this package's
 * handlers too), with any `extra=` keys. Values are decoded as
 * {@linkcode loads} documents.
 */
export type ReceivedRecord = Partial<LogRecordFields> & Record<string, unknown>;

/**
 * Why a frame or a connection was refused:
 * - `"undecodable"`: the frame is not a pickle {@linkcode loads} accepts;
 * - `"notDict"`: the pickle is not a dict of string keys;
 * - `"cut"`: the sender closed the connection inside a frame;
 * - `"tooLarge"`: a length prefix over `maxFrameBytes` (the stream is out of step);
 * - `"overBudget"`: the frame would pass `maxBufferedBytes`;
 * - `"frameTimeout"`: a frame did not arrive whole within `frameTimeout`;
 * - `"idleTimeout"`: a new connection sent nothing within `idleTimeout`;
 * - `"evicted"`: a silent connection was closed for a new one at `maxConnections`;
 * - `"refused"`: a new connection was closed at once at `maxConnections`;
 * - `"overflow"`: a datagram arrived while `maxBufferedRecords` records, or
 *   `maxBufferedBytes` of frames, were waiting for the consumer;
 * - `"kernel"`: the kernel dropped datagrams (its socket buffer was full);
 * - `"error"`: the connection failed otherwise.
 */
export type RefusalReason =
  | "undecodable"
  | "notDict"
  | "cut"
  | "tooLarge"
  | "overBudget"
  | "frameTimeout"
  | "idleTimeout"
  | "evicted"
  | "refused"
  | "overflow"
  | "kernel"
  | "error";

/** Why a frame or a connection was dropped. */
export interface ReceiveError {
  /** What went wrong. */
  error: Error;
  /** The kind of refusal. */
  reason: RefusalReason;
  /** The sender's address. */
  remoteAddr: Deno.Addr;
  /** Whether the connection was closed too (its byte stream could no longer be trusted, or a limit was reached). */
  connectionClosed: boolean;
}

/** Options of {@linkcode listen}. */
export interface ListenOptions {
  /**
   * `"tcp"` (Python's `SocketHandler`), `"udp"` (`DatagramHandler`), or
   * `"unix"` (a `SocketHandler` on a Unix socket; set `path`).
   *
   * @default {"tcp"}
   */
  transport?: "tcp" | "udp" | "unix";
  /**
   * Address to listen on. Listening beyond loopback accepts records from
   * other hosts: do so knowingly.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * Port to listen on; 0 picks a free one (see `addr`).
   *
   * @default {9020 for TCP, 9021 for UDP}
   */
  port?: number;
  /**
   * Unix socket path, for `transport: "unix"`.
   *
   * @default {undefined}
   */
  path?: string;
  /**
   * Largest frame accepted, in bytes. A longer length prefix drops the
   * connection (its stream cannot be trusted). Nothing is allocated from a
   * length prefix: a connection's buffer grows as bytes arrive.
   *
   * @default {16_777_216}
   */
  maxFrameBytes?: number;
  /**
   * Most connections served at once (TCP and Unix). At the cap, a new
   * connection takes the place of one that never delivered a record and
   * has been silent, or inside one frame, for at least 100 ms, else of one
   * silent for at least 60 s (the one stuck longest first); if there is
   * none, the new connection is closed at once. Each connection holds a
   * 64 KiB read buffer.
   *
   * @default {200}
   */
  maxConnections?: number;
  /**
   * Most bytes held for frames still arriving, across all connections,
   * beyond each connection's 64 KiB read buffer. A connection whose frame
   * would pass it is dropped. With the defaults, frame buffers hold at
   * most 200 × 64 KiB + 64 MiB (a buffer grows by doubling, so the GC may
   * hold up to as much again for a while). It also bounds the records
   * waiting for the consumer, by the bytes of their frames: at it, as at
   * `maxBufferedRecords`, senders wait (their reads are not timed) and
   * datagrams are dropped; one more frame may be in flight per connection.
   *
   * @default {67_108_864}
   */
  maxBufferedBytes?: number;
  /**
   * Milliseconds a frame may take from its first byte to its last; a
   * connection whose frame takes longer (a sender that stopped, or one
   * that fills slowly) is dropped.
   *
   * @default {30_000}
   */
  frameTimeout?: number;
  /**
   * Milliseconds a new connection may stay silent; one that sends nothing
   * in that time is closed. Connections that have sent are never closed
   * for being quiet (CPython's `SocketHandler` only notices a closed
   * connection on its second write after it, losing a record), except to
   * make room at `maxConnections`.
   *
   * @default {10_000}
   */
  idleTimeout?: number;
  /**
   * Records held for a consumer that is behind (their frames' bytes are
   * bounded by `maxBufferedBytes` too). When full, TCP and Unix senders
   * wait (their connections are not read, and their frame and idle
   * timeouts are stopped); UDP records are dropped and counted.
   *
   * @default {10_000}
   */
  maxBufferedRecords?: number;
  /**
   * How UDP datagrams are received: `Deno.listenDatagram` (only with
   * `--unstable-net`; the faster) or `node:dgram` (stable). The default
   * takes the first that is available. Either way, `--allow-ffi` (Linux)
   * raises the socket's receive buffer, which neither can set.
   *
   * @default {"listenDatagram" when Deno.listenDatagram exists, else "node:dgram"}
   */
  udpPath?: UdpPath;
  /**
   * Limits of the pickle decoder (depth, memo, items, globals policy).
   *
   * @default {{}}
   */
  loads?: LoadsOptions;
  /**
   * Called for each dropped frame or connection. By default a line goes to
   * stderr, at most one per kind of refusal per 5 s (with a count of those
   * left out).
   *
   * @default {undefined}
   */
  onError?: (report: ReceiveError) => void;
  /**
   * Closes the receiver when aborted.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Counters of a {@linkcode Receiver}. */
export interface ReceiverStats {
  /** Records decoded. */
  records: number;
  /** Frames dropped (undecodable, not a dict, cut, or UDP overflow), and frames lost with a refused connection. */
  dropped: number;
  /** Connections accepted (TCP and Unix). */
  connections: number;
  /** Connections open now. */
  openConnections: number;
  /** Connections the receiver closed (out of step, a limit or a timeout), refused ones included. */
  connectionsDropped: number;
  /** Length prefixes over `maxFrameBytes`. */
  tooLarge: number;
  /** Frames that would have passed `maxBufferedBytes`. */
  overBudget: number;
  /** Frames that did not arrive whole within `frameTimeout`. */
  frameTimeouts: number;
  /** New connections closed for sending nothing within `idleTimeout`. */
  idleTimeouts: number;
  /** Silent connections closed for a new one at `maxConnections`. */
  evicted: number;
  /** New connections closed at once at `maxConnections`. */
  refused: number;
  /** Bytes held now for frames still arriving, beyond the 64 KiB read buffers. */
  bufferedBytes: number;
  /** Bytes received. */
  bytes: number;
  /**
   * UDP datagrams the kernel dropped before the receiver could read them
   * (Linux, with `--allow-ffi` or `--allow-all`); null where unknown.
   */
  kernelDrops: number | null;
}

/**
 * A listening receiver: iterate it for records, `close()` it to stop.
 * Iteration ends after `close()`, once the records already received were
 * yielded. One consumer at a time. It holds the program only while a
 * consumer waits for a record: one left after `break` lets it end.
 */
export interface Receiver
  extends AsyncIterable<ReceivedRecord>, AsyncDisposable {
  /** The address it listens on (the port chosen when `port` was 0). */
  readonly addr: Deno.Addr;
  /** What it received and dropped so far. */
  readonly stats: Readonly<ReceiverStats>;
  /** Stops accepting, closes every connection, and ends the iteration. */
  close(): Promise<void>;
}

/**
 * Listens for records sent by Python's `logging.handlers.SocketHandler` or
 * `DatagramHandler` (or this package's handlers) and yields each record's
 * dict. Many senders may be connected at once. Decoding is safe: nothing
 * a sender writes is executed, imported or used as a prototype. Hostile
 * load is bounded by default (see {@linkcode ListenOptions}): frame size,
 * connections, bytes held, and time per frame; each refusal is counted in
 * `stats`.
 *
 * Permissions: `--allow-net`; for `transport: "unix"`, `--allow-read
 * --allow-write`; `--allow-read=/proc/net` to count the kernel's UDP drops.
 *
 * @example Receive what a SocketHandler sends
 * ```ts
 * import { listen } from "./receiver.ts";
 * import { SocketHandler } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * await using receiver = await listen({ port: 0 });
 * const { port } = receiver.addr as Deno.NetAddr;
 * await using handler = new SocketHandler("127.0.0.1", port);
 * handler.handle({ name: "app", levelname: "INFO", msg: "hello %s", args: ["deno"] });
 * for await (const record of receiver) {
 *   equal(record.msg, "hello deno");
 *   break;
 * }
 * ```
 *
 * @example Tighter bounds for an exposed port
 * ```ts
 * import { listen } from "./receiver.ts";
 * import { equal } from "node:assert/strict";
 *
 * await using receiver = await listen({
 *   port: 0,
 *   maxFrameBytes: 1024 * 1024,
 *   maxConnections: 50,
 *   maxBufferedBytes: 8 * 1024 * 1024,
 *   frameTimeout: 5_000,
 * });
 * equal(receiver.stats.refused, 0);
 * ```
 *
 * @param options Transport, address, limits and error reporting.
 * @returns The receiver, already listening.
 * @throws {RangeError} for a limit that is not a positive number, or a
 *   port that is not an integer from 0 to 65535.
 * @throws {TypeError} for an unknown transport, or `"unix"` without a path.
 */
export async function listen(options: ListenOptions = {}): Promise<Receiver> {
  const transport = options.transport ?? "tcp";
  if (transport !== "tcp" && transport !== "udp" && transport !== "unix") {
    throw new TypeError(`Unknown transport ${JSON.stringify(transport)}`);
  }
  if (transport === "unix" && !options.path) {
    // An empty path listened on a random abstract socket.
    throw new TypeError('listen({ transport: "unix" }) needs a path');
  }
  const port = options.port;
  if (
    port !== undefined && transport !== "unix" &&
    !(Number.isInteger(port) && port >= 0 && port <= 65535)
  ) {
    // node:dgram took -1 as 65535 and 1.5 as 1.
    throw new RangeError(
      `listen(): port must be an integer from 0 to 65535, got ${String(port)}`,
    );
  }
  const r = new ReceiverImpl(options);
  if (transport === "udp") {
    await r.listenUdp(
      options.hostname ?? "127.0.0.1",
      options.port ?? DEFAULT_UDP_LOGGING_PORT,
      options.udpPath,
    );
  } else if (transport === "unix") {
    r.listenStream(Deno.listen({ transport: "unix", path: options.path! }));
  } else {
    r.listenStream(Deno.listen({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? DEFAULT_TCP_LOGGING_PORT,
    }));
  }
  const signal = options.signal;
  if (signal !== undefined) {
    if (signal.aborted) await r.close();
    else signal.addEventListener("abort", () => void r.close(), { once: true });
  }
  return r;
}
