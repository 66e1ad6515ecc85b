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

import dgram from "node:dgram";
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

/** Bytes of the `>L` length prefix of a frame. */
const FRAME_HEADER = 4;
/** Default largest frame accepted (a pickle of 16 MiB is no log record). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Default records buffered for a slow consumer before senders wait. */
const DEFAULT_MAX_BUFFERED_RECORDS = 10_000;
/** Bytes read from a connection at a time. */
const READ_CHUNK = 64 * 1024;
/** At most one default error report per this many ms. */
const REPORT_INTERVAL_MS = 5_000;

/**
 * A record as a sender pickled it: the attribute dict of a Python
 * `LogRecord` (CPython's handlers send every attribute; this package's
 * handlers too), with any `extra=` keys. Values are decoded as
 * {@linkcode loads} documents.
 */
export type ReceivedRecord = Partial<LogRecordFields> & Record<string, unknown>;

/** Why a frame or a connection was dropped. */
export interface ReceiveError {
  /** What went wrong. */
  error: Error;
  /** The sender's address. */
  remoteAddr: Deno.Addr;
  /** Whether the connection was closed too (its byte stream could no longer be trusted). */
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
   * connection (its stream cannot be trusted).
   *
   * @default {16_777_216}
   */
  maxFrameBytes?: number;
  /**
   * Records held for a consumer that is behind. When full, TCP and Unix
   * senders wait (their connections are not read); UDP records are dropped
   * and counted.
   *
   * @default {10_000}
   */
  maxBufferedRecords?: number;
  /**
   * Limits of the pickle decoder (depth, memo, items, globals policy).
   *
   * @default {{}}
   */
  loads?: LoadsOptions;
  /**
   * Called for each dropped frame or connection. By default a line goes to
   * stderr, at most one per 5 s (with a count of those left out).
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
  /** Frames dropped (undecodable, not a dict, too large, or UDP overflow). */
  dropped: number;
  /** Connections accepted (TCP and Unix). */
  connections: number;
  /** Connections closed because their stream was out of step. */
  connectionsDropped: number;
  /** Bytes received. */
  bytes: number;
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
 * a sender writes is executed, imported or used as a prototype.
 *
 * Permissions: `--allow-net`; for `transport: "unix"`, `--allow-read
 * --allow-write`.
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
 * @param options Transport, address, limits and error reporting.
 * @returns The receiver, already listening.
 */
export async function listen(options: ListenOptions = {}): Promise<Receiver> {
  const transport = options.transport ?? "tcp";
  const r = new ReceiverImpl(options);
  if (transport === "udp") {
    await r.listenUdp(
      options.hostname ?? "127.0.0.1",
      options.port ?? DEFAULT_UDP_LOGGING_PORT,
    );
  } else if (transport === "unix") {
    if (options.path === undefined) {
      throw new TypeError('listen({ transport: "unix" }) needs a path');
    }
    r.listenStream(Deno.listen({ transport: "unix", path: options.path }));
  } else if (transport === "tcp") {
    r.listenStream(Deno.listen({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? DEFAULT_TCP_LOGGING_PORT,
    }));
  } else {
    throw new TypeError(`Unknown transport ${JSON.stringify(transport)}`);
  }
  const signal = options.signal;
  if (signal !== undefined) {
    if (signal.aborted) await r.close();
    else signal.addEventListener("abort", () => void r.close(), { once: true });
  }
  return r;
}

class ReceiverImpl implements Receiver {
  readonly #maxFrame: number;
  readonly #maxBuffered: number;
  readonly #loads: LoadsOptions;
  readonly #onError: (report: ReceiveError) => void;
  readonly #stats: ReceiverStats = {
    records: 0,
    dropped: 0,
    connections: 0,
    connectionsDropped: 0,
    bytes: 0,
  };
  #addr: Deno.Addr | null = null;
  #listener: Deno.Listener | null = null;
  #udp: dgram.Socket | null = null;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  /** Records waiting for the consumer (a ring would do; shift is fine at this size). */
  #buffer: ReceivedRecord[] = [];
  #head = 0;
  #closed = false;
  /** Wakes the consumer. */
  #wakeConsumer: (() => void) | null = null;
  /** Wakes readers waiting for room. */
  #room: Promise<void> | null = null;
  #wakeReaders: (() => void) | null = null;
  #lastReport = 0;
  #suppressed = 0;

  constructor(options: ListenOptions) {
    this.#maxFrame = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#maxBuffered = options.maxBufferedRecords ??
      DEFAULT_MAX_BUFFERED_RECORDS;
    this.#loads = options.loads ?? {};
    this.#onError = options.onError ?? ((report) => this.#report(report));
  }

  get addr(): Deno.Addr {
    return this.#addr!;
  }

  get stats(): Readonly<ReceiverStats> {
    return { ...this.#stats };
  }

  listenStream(listener: Deno.Listener): void {
    this.#listener = listener;
    this.#addr = listener.addr;
    this.#track((async () => {
      try {
        for await (const conn of listener) {
          if (this.#closed) {
            conn.close();
            break;
          }
          this.#stats.connections++;
          this.#conns.add(conn);
          this.#track(this.#serve(conn));
        }
      } catch {
        // the listener was closed
      }
    })());
  }

  listenUdp(hostname: string, port: number): Promise<void> {
    const sock = dgram.createSocket({
      type: hostname.includes(":") ? "udp6" : "udp4",
      recvBufferSize: 4 * 1024 * 1024,
    });
    this.#udp = sock;
    sock.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
      const remoteAddr: Deno.NetAddr = {
        transport: "udp",
        hostname: rinfo.address,
        port: rinfo.port,
      };
      this.#stats.bytes += msg.length;
      if (this.#pending() >= this.#maxBuffered) {
        this.#stats.dropped++;
        return;
      }
      // As the cookbook's UDP receiver: skip the 4-byte length.
      if (msg.length < FRAME_HEADER) {
        this.#dropFrame(
          new PickleDecodeError("Datagram shorter than a frame header", 0),
          remoteAddr,
          false,
        );
        return;
      }
      const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
      const declared = view.getUint32(0);
      if (declared !== msg.length - FRAME_HEADER) {
        this.#dropFrame(
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
    });
    return new Promise((resolve, reject) => {
      sock.once("error", reject);
      sock.bind(port, hostname, () => {
        sock.off("error", reject);
        sock.on("error", () => {});
        const a = sock.address();
        this.#addr = { transport: "udp", hostname: a.address, port: a.port };
        sock.unref(); // like a Deno listener: only a pending read holds the program
        if (this.#wakeConsumer !== null) sock.ref();
        resolve();
      });
    });
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const remoteAddr = conn.remoteAddr;
    let buf = new Uint8Array(READ_CHUNK);
    let start = 0; // first unparsed byte
    let end = 0; // end of the bytes read
    try {
      while (!this.#closed) {
        if (this.#pending() >= this.#maxBuffered) {
          await this.#waitForRoom();
          continue;
        }
        if (buf.length - end < READ_CHUNK / 4) {
          // Make room: move the unparsed tail to the front, or grow.
          const unparsed = end - start;
          if (start > 0 && unparsed + READ_CHUNK / 4 <= buf.length) {
            buf.copyWithin(0, start, end);
          } else {
            const bigger = new Uint8Array(
              Math.max(buf.length * 2, unparsed + READ_CHUNK),
            );
            bigger.set(buf.subarray(start, end));
            buf = bigger;
          }
          start = 0;
          end = unparsed;
        }
        const n = await conn.read(buf.subarray(end));
        if (n === null) {
          if (end > start) {
            this.#dropFrame(
              new RangeError(
                `The sender closed the connection ${
                  end - start
                } bytes into a frame`,
              ),
              remoteAddr,
              false,
            );
          }
          break;
        }
        end += n;
        this.#stats.bytes += n;
        // Every whole frame in the buffer.
        while (end - start >= FRAME_HEADER) {
          const len = ((buf[start] << 24) | (buf[start + 1] << 16) |
            (buf[start + 2] << 8) | buf[start + 3]) >>> 0;
          if (len > this.#maxFrame) {
            throw new RangeError(
              `Frame of ${len} bytes exceeds maxFrameBytes (${this.#maxFrame}); the stream is out of step`,
            );
          }
          if (end - start - FRAME_HEADER < len) {
            // Not all here yet: make sure it will fit.
            const need = FRAME_HEADER + len;
            if (need > buf.length - start) {
              const bigger = new Uint8Array(Math.max(need, READ_CHUNK));
              bigger.set(buf.subarray(start, end));
              end -= start;
              start = 0;
              buf = bigger;
            }
            break;
          }
          const body = buf.subarray(
            start + FRAME_HEADER,
            start + FRAME_HEADER + len,
          );
          start += FRAME_HEADER + len;
          this.#decode(body, remoteAddr);
        }
        if (start === end) start = end = 0;
      }
    } catch (error) {
      if (!this.#closed && !isClosedError(error)) {
        this.#stats.connectionsDropped++;
        this.#dropFrame(asError(error), remoteAddr, true);
      }
    } finally {
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }

  #decode(body: Uint8Array, remoteAddr: Deno.Addr): void {
    let value: unknown;
    try {
      value = loads(body, this.#loads);
    } catch (error) {
      this.#dropFrame(asError(error), remoteAddr, false);
      return;
    }
    if (
      value === null || typeof value !== "object" || Array.isArray(value) ||
      value instanceof Map || Object.getPrototypeOf(value) !== Object.prototype
    ) {
      this.#dropFrame(
        new TypeError("The frame's pickle is not a dict of string keys"),
        remoteAddr,
        false,
      );
      return;
    }
    this.#stats.records++;
    this.#buffer.push(value as ReceivedRecord);
    this.#wakeConsumer?.();
  }

  #dropFrame(error: Error, remoteAddr: Deno.Addr, connectionClosed: boolean) {
    this.#stats.dropped++;
    try {
      this.#onError({ error, remoteAddr, connectionClosed });
    } catch {
      // a throwing callback must not stop the receiver
    }
  }

  #report(report: ReceiveError): void {
    const now = Date.now();
    if (now - this.#lastReport < REPORT_INTERVAL_MS) {
      this.#suppressed++;
      return;
    }
    const more = this.#suppressed > 0
      ? ` (${this.#suppressed} more since the last report)`
      : "";
    this.#lastReport = now;
    this.#suppressed = 0;
    const from = formatAddr(report.remoteAddr);
    const what = report.connectionClosed
      ? "dropped the connection"
      : "dropped a frame";
    console.error(
      `pysocklog receiver: ${what} from ${from}: ${report.error.message}${more}`,
    );
  }

  #pending(): number {
    return this.#buffer.length - this.#head;
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

  async *[Symbol.asyncIterator](): AsyncIterator<ReceivedRecord> {
    while (true) {
      if (this.#head < this.#buffer.length) {
        const record = this.#buffer[this.#head++];
        if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
          this.#buffer = this.#buffer.slice(this.#head);
          this.#head = 0;
        }
        if (this.#wakeReaders !== null && this.#pending() < this.#maxBuffered) {
          this.#wakeReaders();
        }
        yield record;
        continue;
      }
      if (this.#closed) return;
      this.#udp?.ref();
      await new Promise<void>((resolve) => this.#wakeConsumer = resolve);
      this.#wakeConsumer = null;
      this.#udp?.unref();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) {
      await Promise.allSettled([...this.#tasks]);
      return;
    }
    this.#closed = true;
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    if (this.#udp !== null) {
      const sock = this.#udp;
      await new Promise<void>((resolve) => {
        try {
          sock.close(() => resolve());
        } catch {
          resolve();
        }
      });
    }
    this.#wakeReaders?.();
    this.#wakeConsumer?.();
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
