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
 * ```ts ignore
 * import { listen } from "@pysocklog/pysocklog/receiver";
 *
 * await using receiver = await listen({ port: 9020 });
 * for await (const record of receiver) {
 *   console.log(record.levelname, record.name, record.msg);
 * }
 * ```
 *
 * @module
 */

import {
  loads,
  type LoadsOptions,
  PickleDecodeError,
} from "./pickle/decode.ts";
import {
  DEFAULT_TCP_LOGGING_PORT,
  DEFAULT_UDP_LOGGING_PORT,
  type LogRecordFields,
} from "./record.ts";
import { FRAME_HEADER } from "./record/frame.ts";
import { Reporter } from "./util/_reporter.ts";
import {
  type Budget,
  FrameRefused,
  FrameSplitter,
  READ_CHUNK,
} from "./receiver/_frames.ts";
import { bindUdp, type UdpPath, type UdpSocket } from "./receiver/_udp.ts";

export type { UdpPath } from "./receiver/_udp.ts";

/** Default largest frame accepted (a pickle of 16 MiB is no log record). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/**
 * Default most connections served at once (rsyslog's `MaxSessions`
 * default).
 */
export const DEFAULT_MAX_CONNECTIONS = 200;
/**
 * Default most bytes held for frames still arriving, across all
 * connections, beyond each connection's 64 KiB read buffer.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** Default ms a frame may take from its first byte to its last. */
export const DEFAULT_FRAME_TIMEOUT = 30_000;
/** Default ms a new connection may stay silent before it is closed. */
export const DEFAULT_IDLE_TIMEOUT = 10_000;
/** Default records buffered for a slow consumer before senders wait. */
export const DEFAULT_MAX_BUFFERED_RECORDS = 10_000;
/**
 * At the connection cap, only a connection silent, or inside one frame,
 * for at least this long may be closed to make room for a new one (a
 * CPython sender writes within a few ms of connecting). With 1 s, a
 * CPython sender joining 0.4 s into a flood of 10,000 silent connections
 * was refused 15 times and lost 30 records; with 100 ms, none.
 */
const EVICT_AFTER_MS = 100;
/**
 * A connection that delivered records may be closed for a new one only
 * after this long silent: the time since its last byte was read also grows
 * while the receiver is busy (an accept storm made a CPython sender writing
 * every 10 ms look 100 ms silent, and it was evicted).
 */
const EVICT_SENDER_AFTER_MS = 60_000;
/** Bytes a busy connection reads per round while others are open. */
const SHARE_BYTES = READ_CHUNK;
/** Timeouts are checked this often at most (and at least every 1 s). */
const SWEEP_MIN_MS = 50;

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
 * - `"overflow"`: a datagram arrived while `maxBufferedRecords` were waiting;
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
   * hold up to as much again for a while); decoded records waiting for the
   * consumer come on top (see `maxBufferedRecords`).
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
   * Records held for a consumer that is behind. When full, TCP and Unix
   * senders wait (their connections are not read); UDP records are dropped
   * and counted.
   *
   * @default {10_000}
   */
  maxBufferedRecords?: number;
  /**
   * How UDP datagrams are received: `Deno.listenDatagram` (only with
   * `--unstable-net`; keeps up with 50,000 datagrams/s on loopback) or
   * `node:dgram` (stable). The default takes the first that is available.
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
   * (Linux, with read permission for /proc/net/udp); null where unknown.
   */
  kernelDrops: number | null;
}

/**
 * A listening receiver: iterate it for records, `close()` it to stop.
 * Iteration ends after `close()`, once the records already received were
 * yielded. One consumer at a time.
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
 * @throws {RangeError} for a limit that is not a positive number.
 */
export async function listen(options: ListenOptions = {}): Promise<Receiver> {
  const transport = options.transport ?? "tcp";
  if (transport !== "tcp" && transport !== "udp" && transport !== "unix") {
    throw new TypeError(`Unknown transport ${JSON.stringify(transport)}`);
  }
  if (transport === "unix" && options.path === undefined) {
    throw new TypeError('listen({ transport: "unix" }) needs a path');
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

/** `value ?? fallback`, checked to be a positive number (integer if asked). */
function limit(
  name: string,
  value: number | undefined,
  fallback: number,
  integer = true,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || !(value > 0) ||
    (integer && !Number.isSafeInteger(value) && value !== Infinity)
  ) {
    throw new RangeError(
      `listen(): ${name} must be a positive ${
        integer ? "integer" : "number"
      }, got ${String(value)}`,
    );
  }
  return value;
}

/** One accepted stream connection. */
interface Connection {
  readonly conn: Deno.Conn;
  readonly remoteAddr: Deno.Addr;
  readonly frames: FrameSplitter;
  readonly openedAt: number;
  /** When the last byte arrived (openedAt before any). */
  lastByteAt: number;
  /** When the frame still arriving began (0: none). */
  frameStartedAt: number;
  /** Records it delivered. */
  records: number;
  /** Set when the receiver closes it for a limit. */
  closedFor: RefusalReason | null;
  /** Bytes read in this round by full reads. */
  share: number;
}

const DONE: IteratorResult<ReceivedRecord> = Object.freeze({
  value: undefined,
  done: true,
});

class ReceiverImpl implements Receiver {
  readonly #maxFrame: number;
  readonly #maxConnections: number;
  readonly #frameTimeout: number;
  readonly #idleTimeout: number;
  readonly #maxBuffered: number;
  readonly #budget: Budget;
  readonly #loads: LoadsOptions;
  readonly #onError: (report: ReceiveError) => void;
  readonly #reporter = new Reporter();
  readonly #stats = {
    records: 0,
    dropped: 0,
    connections: 0,
    connectionsDropped: 0,
    tooLarge: 0,
    overBudget: 0,
    frameTimeouts: 0,
    idleTimeouts: 0,
    evicted: 0,
    refused: 0,
    bytes: 0,
  };
  #addr: Deno.Addr | null = null;
  #listener: Deno.Listener | null = null;
  #udp: UdpSocket | null = null;
  readonly #conns = new Set<Connection>();
  readonly #tasks = new Set<Promise<void>>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  /** Records waiting for the consumer. */
  #buffer: ReceivedRecord[] = [];
  #head = 0;
  #closed = false;
  /** The consumer's pending next(), when it waits for a record. */
  #consumer: ((result: IteratorResult<ReceivedRecord>) => void) | null = null;
  /** Wakes readers waiting for room. */
  #room: Promise<void> | null = null;
  #wakeReaders: (() => void) | null = null;
  /** The next round of reads, while a connection waits for it. */
  #round: Promise<void> | null = null;

  constructor(options: ListenOptions) {
    this.#maxFrame = limit(
      "maxFrameBytes",
      options.maxFrameBytes,
      DEFAULT_MAX_FRAME_BYTES,
    );
    this.#maxConnections = limit(
      "maxConnections",
      options.maxConnections,
      DEFAULT_MAX_CONNECTIONS,
    );
    this.#budget = {
      used: 0,
      max: limit(
        "maxBufferedBytes",
        options.maxBufferedBytes,
        DEFAULT_MAX_BUFFERED_BYTES,
      ),
    };
    this.#frameTimeout = limit(
      "frameTimeout",
      options.frameTimeout,
      DEFAULT_FRAME_TIMEOUT,
      false,
    );
    this.#idleTimeout = limit(
      "idleTimeout",
      options.idleTimeout,
      DEFAULT_IDLE_TIMEOUT,
      false,
    );
    this.#maxBuffered = limit(
      "maxBufferedRecords",
      options.maxBufferedRecords,
      DEFAULT_MAX_BUFFERED_RECORDS,
    );
    if (
      options.udpPath !== undefined && options.udpPath !== "listenDatagram" &&
      options.udpPath !== "node:dgram"
    ) {
      throw new RangeError(
        `listen(): udpPath must be "listenDatagram" or "node:dgram", got ${
          String(options.udpPath)
        }`,
      );
    }
    this.#loads = options.loads ?? {};
    this.#onError = options.onError ?? ((report) => this.#report(report));
  }

  get addr(): Deno.Addr {
    return this.#addr!;
  }

  get stats(): Readonly<ReceiverStats> {
    return {
      ...this.#stats,
      openConnections: this.#conns.size,
      bufferedBytes: this.#budget.used,
      kernelDrops: this.#udp?.kernelDrops() ?? null,
    };
  }

  listenStream(listener: Deno.Listener): void {
    this.#listener = listener;
    this.#addr = listener.addr;
    const every = Math.min(
      1_000,
      Math.max(
        SWEEP_MIN_MS,
        Math.min(this.#frameTimeout, this.#idleTimeout) / 4,
      ),
    );
    if (Number.isFinite(every)) {
      const timer = setInterval(() => this.#sweep(), every);
      Deno.unrefTimer(timer);
      this.#sweeper = timer;
    }
    this.#track((async () => {
      try {
        for await (const conn of listener) {
          if (this.#closed) {
            conn.close();
            break;
          }
          this.#accept(conn);
        }
      } catch {
        // the listener was closed
      }
    })());
  }

  async listenUdp(
    hostname: string,
    port: number,
    path: UdpPath | undefined,
  ): Promise<void> {
    this.#udp = await bindUdp(
      hostname,
      port,
      (msg, remoteAddr) => this.#datagram(msg, remoteAddr),
      path,
    );
    this.#addr = this.#udp.addr;
    if (this.#consumer !== null) this.#udp.ref();
  }

  #datagram(msg: Uint8Array, remoteAddr: Deno.NetAddr): void {
    this.#stats.bytes += msg.length;
    if (this.#pending() >= this.#maxBuffered) {
      this.#drop(
        "overflow",
        new RangeError(
          `${this.#maxBuffered} records wait for the consumer (maxBufferedRecords)`,
        ),
        remoteAddr,
        false,
      );
      return;
    }
    // As the cookbook's UDP receiver: skip the 4-byte length.
    if (msg.length < FRAME_HEADER) {
      this.#drop(
        "undecodable",
        new PickleDecodeError("Datagram shorter than a frame header", 0),
        remoteAddr,
        false,
      );
      return;
    }
    const declared =
      ((msg[0] << 24) | (msg[1] << 16) | (msg[2] << 8) | msg[3]) >>> 0;
    if (declared !== msg.length - FRAME_HEADER) {
      this.#drop(
        "undecodable",
        new RangeError(
          `Datagram length prefix says ${declared} bytes, ${
            msg.length - FRAME_HEADER
          } follow`,
        ),
        remoteAddr,
        false,
      );
      return;
    }
    this.#decode(msg.subarray(FRAME_HEADER), remoteAddr);
  }

  /** Takes a new connection, making room at the cap or refusing it. */
  #accept(conn: Deno.Conn): void {
    const now = Date.now();
    if (this.#conns.size >= this.#maxConnections) {
      const victim = this.#stuckest(now);
      if (victim === null) {
        this.#stats.refused++;
        this.#stats.connectionsDropped++;
        const remoteAddr = conn.remoteAddr;
        try {
          conn.close();
        } catch {
          // already closed
        }
        this.#drop(
          "refused",
          new RangeError(
            `${this.#maxConnections} connections are open (maxConnections), none silent or inside one frame for ${EVICT_AFTER_MS} ms`,
          ),
          remoteAddr,
          true,
          false,
        );
        return;
      }
      this.#close(
        victim,
        "evicted",
        `Silent or inside one frame for ${
          now - (victim.frameStartedAt || victim.lastByteAt)
        } ms, closed for a new connection at maxConnections (${this.#maxConnections})`,
      );
    }
    this.#stats.connections++;
    const c: Connection = {
      conn,
      remoteAddr: conn.remoteAddr,
      frames: new FrameSplitter(this.#maxFrame, this.#budget),
      openedAt: now,
      lastByteAt: now,
      frameStartedAt: 0,
      records: 0,
      closedFor: null,
      share: 0,
    };
    this.#conns.add(c);
    this.#track(this.#serve(c));
  }

  /**
   * The connection to close for a new one at the cap: one stuck (silent,
   * or inside one frame) for at least EVICT_AFTER_MS, or
   * EVICT_SENDER_AFTER_MS if it delivered records; one that never
   * delivered a record first, then the one stuck longest. Null if none.
   */
  #stuckest(now: number): Connection | null {
    let best: Connection | null = null;
    let bestSince = 0;
    for (const c of this.#conns) {
      if (c.closedFor !== null) continue;
      const since = c.frameStartedAt > 0 ? c.frameStartedAt : c.lastByteAt;
      const min = c.records === 0 ? EVICT_AFTER_MS : EVICT_SENDER_AFTER_MS;
      if (now - since < min) continue;
      if (
        best === null ||
        (c.records === 0 && best.records > 0) ||
        ((c.records === 0) === (best.records === 0) && since < bestSince)
      ) {
        best = c;
        bestSince = since;
      }
    }
    return best;
  }

  /** Closes connections past frameTimeout or idleTimeout. */
  #sweep(): void {
    const now = Date.now();
    for (const c of this.#conns) {
      if (c.closedFor !== null) continue;
      if (
        c.frameStartedAt > 0 && now - c.frameStartedAt > this.#frameTimeout
      ) {
        this.#close(
          c,
          "frameTimeout",
          `A frame of ${c.frames.partial} bytes so far did not arrive whole within frameTimeout (${this.#frameTimeout} ms)`,
        );
      } else if (
        c.records === 0 && c.frameStartedAt === 0 &&
        c.lastByteAt === c.openedAt && now - c.openedAt > this.#idleTimeout
      ) {
        this.#close(
          c,
          "idleTimeout",
          `Sent nothing within idleTimeout (${this.#idleTimeout} ms)`,
        );
      }
    }
  }

  /** Closes a connection for a limit; its serve loop ends on the closed read. */
  #close(c: Connection, reason: RefusalReason, message: string): void {
    c.closedFor = reason;
    this.#conns.delete(c); // its place is free now, not when its read ends
    if (reason === "frameTimeout") this.#stats.frameTimeouts++;
    else if (reason === "idleTimeout") this.#stats.idleTimeouts++;
    else if (reason === "evicted") this.#stats.evicted++;
    this.#stats.connectionsDropped++;
    try {
      c.conn.close();
    } catch {
      // already closed
    }
    this.#drop(
      reason,
      new RangeError(message),
      c.remoteAddr,
      true,
      c.frames.partial > 0,
    );
  }

  async #serve(c: Connection): Promise<void> {
    const { conn, frames, remoteAddr } = c;
    try {
      while (!this.#closed && c.closedFor === null) {
        if (this.#pending() >= this.#maxBuffered) {
          await this.#waitForRoom();
          continue;
        }
        const room = frames.room();
        const n = await conn.read(room);
        if (n === null) {
          if (frames.partial > 0 && c.closedFor === null) {
            this.#drop(
              "cut",
              new RangeError(
                `The sender closed the connection ${frames.partial} bytes into a frame`,
              ),
              remoteAddr,
              false,
            );
          }
          break;
        }
        const now = Date.now();
        c.lastByteAt = now;
        this.#stats.bytes += n;
        frames.add(n);
        // The whole frames of this read: one read (<= 64 KiB) is a
        // connection's share of a turn.
        let body: Uint8Array | null;
        let took = false;
        while ((body = frames.next()) !== null) {
          took = true;
          this.#decode(body, remoteAddr, c);
        }
        if (frames.partial === 0) c.frameStartedAt = 0;
        else if (took || c.frameStartedAt === 0) c.frameStartedAt = now;
        // A read that fills its room means more is waiting. Deno completes
        // such reads at once, while a socket that was not ready is polled
        // only every ~60 turns: a sender flat out kept others from being
        // read (2 of 4 CPython clients got nothing for 4.7 s of 8). So a
        // connection reads at most SHARE_BYTES per round while others are
        // open, then waits for the next round.
        if (n < room.length) c.share = 0;
        else if ((c.share += n) >= SHARE_BYTES && this.#conns.size > 1) {
          c.share = 0;
          await this.#nextRound();
        }
      }
    } catch (error) {
      if (c.closedFor === null && !this.#closed && !isClosedError(error)) {
        this.#stats.connectionsDropped++;
        let reason: RefusalReason = "error";
        if (error instanceof FrameRefused) {
          reason = error.reason;
          if (reason === "tooLarge") this.#stats.tooLarge++;
          else this.#stats.overBudget++;
        }
        c.closedFor = reason;
        this.#drop(reason, asError(error), remoteAddr, true);
      }
    } finally {
      this.#conns.delete(c);
      frames.release();
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }

  #decode(body: Uint8Array, remoteAddr: Deno.Addr, c?: Connection): void {
    let value: unknown;
    try {
      value = loads(body, this.#loads);
    } catch (error) {
      this.#drop("undecodable", asError(error), remoteAddr, false);
      return;
    }
    if (
      value === null || typeof value !== "object" || Array.isArray(value) ||
      value instanceof Map || Object.getPrototypeOf(value) !== Object.prototype
    ) {
      this.#drop(
        "notDict",
        new TypeError("The frame's pickle is not a dict of string keys"),
        remoteAddr,
        false,
      );
      return;
    }
    this.#stats.records++;
    if (c !== undefined) c.records++;
    if (!this.#handOff(value as ReceivedRecord)) {
      this.#buffer.push(value as ReceivedRecord);
    }
  }

  /** Counts and reports a refusal; `lost` says whether a frame was lost with it. */
  #drop(
    reason: RefusalReason,
    error: Error,
    remoteAddr: Deno.Addr,
    connectionClosed: boolean,
    lost = true,
  ) {
    if (lost) this.#stats.dropped++;
    try {
      this.#onError({ error, reason, remoteAddr, connectionClosed });
    } catch {
      // a throwing callback must not stop the receiver
    }
  }

  #report(report: ReceiveError): void {
    this.#reporter.report(report.reason, () => {
      const from = formatAddr(report.remoteAddr);
      const what = report.connectionClosed
        ? "closed the connection"
        : "dropped a frame";
      return `pysocklog receiver: ${what} from ${from} (${report.reason}): ${report.error.message}`;
    });
  }

  /** The oldest waiting record; its slot no longer holds it. */
  #take(): ReceivedRecord {
    const buffer = this.#buffer;
    const record = buffer[this.#head];
    buffer[this.#head++] = undefined as unknown as ReceivedRecord;
    if (this.#head === buffer.length) {
      buffer.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > buffer.length) {
      this.#buffer = buffer.slice(this.#head);
      this.#head = 0;
    }
    return record;
  }

  #pending(): number {
    return this.#buffer.length - this.#head;
  }

  /**
   * Resolves on the next round: a timer, so the runtime polls every socket
   * (a busy Deno checks sockets that are not ready at once only every ~60
   * turns; setImmediate or a message to ourselves does not wait for that).
   * One timer for all connections; it costs ~2 ms, overlapped by the other
   * connections' work.
   */
  #nextRound(): Promise<void> {
    return this.#round ??= new Promise((resolve) =>
      setTimeout(() => {
        this.#round = null;
        resolve();
      }, 0)
    );
  }

  #waitForRoom(): Promise<void> {
    this.#room ??= new Promise((resolve) => {
      this.#wakeReaders = () => {
        this.#room = null;
        this.#wakeReaders = null;
        resolve();
      };
    });
    return this.#room;
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  // A plain iterator, not an async generator: the generator's machinery
  // cost 2.0 of the receiver's own 3.3 µs per record (100,000 CPython
  // frames over one connection, profiled).
  [Symbol.asyncIterator](): AsyncIterator<ReceivedRecord> {
    return {
      next: (): Promise<IteratorResult<ReceivedRecord>> => {
        if (this.#head < this.#buffer.length) {
          const record = this.#take();
          if (
            this.#wakeReaders !== null && this.#pending() < this.#maxBuffered
          ) {
            this.#wakeReaders();
          }
          return Promise.resolve({ value: record, done: false });
        }
        if (this.#closed) return Promise.resolve(DONE);
        this.#udp?.ref();
        return new Promise((resolve) => this.#consumer = resolve);
      },
      return: (): Promise<IteratorResult<ReceivedRecord>> =>
        Promise.resolve(DONE),
    };
  }

  /** Hands a record to a waiting consumer; false if none waits. */
  #handOff(record: ReceivedRecord): boolean {
    const consumer = this.#consumer;
    if (consumer === null) return false;
    this.#consumer = null;
    this.#udp?.unref();
    consumer({ value: record, done: false });
    return true;
  }

  async close(): Promise<void> {
    if (this.#closed) {
      await Promise.allSettled([...this.#tasks]);
      return;
    }
    this.#closed = true;
    clearInterval(this.#sweeper);
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
    for (const c of this.#conns) {
      try {
        c.conn.close();
      } catch {
        // already closed
      }
    }
    await this.#udp?.close();
    this.#wakeReaders?.();
    const consumer = this.#consumer;
    this.#consumer = null;
    consumer?.(DONE);
    await Promise.allSettled([...this.#tasks]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function isClosedError(error: unknown): boolean {
  // Closed by close(), or reset by a sender that went away: not a bad stream.
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe;
}

/**
 * An address as text: `host:port`, `[v6]:port`, or a Unix socket path.
 *
 * @example
 * ```ts
 * import { formatAddr } from "@pysocklog/pysocklog/receiver";
 * import { equal } from "node:assert/strict";
 *
 * equal(formatAddr({ transport: "tcp", hostname: "127.0.0.1", port: 9020 }), "127.0.0.1:9020");
 * ```
 *
 * @param addr A Deno address.
 * @returns The text.
 */
export function formatAddr(addr: Deno.Addr): string {
  if ("path" in addr) return addr.path || "a Unix socket";
  if ("hostname" in addr) {
    return addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
  }
  return addr.transport;
}
