// Copyright the pysocklog authors. MIT license.
/**
 * `SocketHandler`: CPython's `logging.handlers.SocketHandler` on Deno
 * streams (TCP, TLS, Unix socket), with an async send loop and CPython's
 * retry backoff as a timer.
 *
 * @module
 */

import {
  checkAddress,
  checkPositive,
  type FrameBatch,
  Handler,
  TransmitError,
} from "./handler.ts";
import {
  checkBoolean,
  MAX_TIMER_MS,
  shown,
  type SocketHandlerOptions,
  type TlsOptions,
} from "./_options.ts";
import { backOff, initialBackoff, mayAttempt, OneAttempt } from "./_retry.ts";
import { writeUnref } from "./_unref.ts";
import { canUseWorker, IoWorker, WorkerConn } from "./_worker_conn.ts";

export type { SocketHandlerOptions, TlsOptions } from "./_options.ts";

const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
/** Most ms the I/O worker may take to start (60-140 ms measured on a loaded machine). */
const WORKER_START_TIMEOUT_MS = 10_000;
const READ_BUFFER = 512;
/** How much longer than connectTimeout the I/O worker may take to say how its attempt ended. */
const WORKER_ANSWER_MS = 250;

function isSocketError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.TimedOut ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof TransmitError;
}

/**
 * Sends records to a Python `SocketHandler` receiver (the logging
 * cookbook's socket server, or `listen()` of this package) as CPython's
 * `logging.handlers.SocketHandler` does: each record a 4-byte length and a
 * pickle of its dict.
 *
 * Unlike CPython's, it never blocks the caller: `emit()` queues the frame
 * and one send loop writes the queue in batches. The connection is opened
 * as soon as the handler is made (so that a first burst finds it open);
 * when it fails or is lost, CPython's backoff applies (`retryStart`,
 * ×`retryFactor`, up to `retryMax` seconds) but as a timer, also during
 * `close()`, and records wait in the bounded queue meanwhile. Records
 * dropped after they were accepted are announced to the receiver by a drop
 * notice (see {@linkcode HandlerOptions.dropNotices}).
 *
 * The socket I/O runs in a Worker (see `ioWorker`), so that a program
 * logging thousands of records between two awaits does not outrun its
 * socket.
 *
 * Permissions: `--allow-net` (TCP, TLS); `--allow-read --allow-write` for a
 * Unix socket; `--allow-read` of this package's files for the I/O worker
 * (without it, the I/O stays in the program's thread).
 *
 * @example Log to a receiver
 * ```ts
 * import { SocketHandler } from "@pysocklog/pysocklog";
 * import { listen } from "@pysocklog/pysocklog/receiver";
 * import { equal } from "node:assert/strict";
 *
 * // A receiver on a free port; the cookbook's on 9020 sees the same records.
 * await using receiver = await listen({ port: 0 });
 * const { port } = receiver.addr as Deno.NetAddr;
 *
 * const handler = new SocketHandler("127.0.0.1", port);
 * handler.handle({ name: "app", levelname: "INFO", msg: "hello %s", args: ["python"] });
 * await handler.close(); // flushes first
 *
 * for await (const record of receiver) {
 *   equal(record.msg, "hello python");
 *   equal(record.levelname, "INFO");
 *   break;
 * }
 * ```
 */
export class SocketHandler extends Handler {
  /** Receiver host, or the Unix socket path when `port` is null. */
  readonly host: string;
  /** Receiver port; null for a Unix socket. */
  readonly port: number | null;
  /** CPython's `closeOnError`. */
  closeOnError: boolean;
  /** Seconds before the first retry. */
  retryStart: number;
  /** Most seconds between retries. */
  retryMax: number;
  /** Factor between retries. */
  retryFactor: number;
  /** When the next connection attempt may be made (epoch seconds), or null: now. */
  retryTime: number | null = null;
  /** Seconds of the current wait between attempts. */
  retryPeriod: number;
  /** The open connection, if any. */
  sock: Deno.Conn | null = null;
  /** Whether records are dropped while the receiver is down. */
  readonly dropWhileDown: boolean;
  /** TLS settings, if connecting with TLS. */
  readonly tls: TlsOptions | null;
  /** Milliseconds one connection attempt may take. */
  readonly connectTimeout: number;

  #connections = 0;
  /** Whether the open connection has carried a byte. */
  #carried = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The attempt to open the socket under way, if any. */
  readonly #attempts = new OneAttempt();
  /** Deno's permissions refused the connection: no attempt can succeed. */
  #denied = false;
  /** Whether to do the I/O in a Worker, and the Worker once made. */
  #useWorker: boolean;
  #io: IoWorker | null = null;
  /** Lost connections of the I/O worker whose unwritten frames are to be sent again. */
  #lost: WorkerConn[] = [];

  /**
   * Makes the handler and starts connecting (in a microtask, after the
   * constructors of subclasses ran).
   *
   * @param host Receiver host name or address; with `port` null, a Unix socket path.
   * @param port Receiver port (CPython's default is 9020), or null for a Unix socket.
   * @param options Queue, retry, TLS and timeout options.
   * @throws {RangeError} For an impossible port, an empty host, a Unix
   * socket path longer than the OS takes (107 bytes; 103 on macOS), or a retry
   * value, timeout or queue bound that is not a positive number.
   * @throws {TypeError} For `tls` settings or `onError` of the wrong type.
   */
  constructor(
    host: string,
    port: number | null,
    options: SocketHandlerOptions = {},
  ) {
    super(options);
    options ??= {}; // null from JavaScript: no options
    checkAddress(host, port);
    checkBoolean("closeOnError", options.closeOnError);
    checkBoolean("dropWhileDown", options.dropWhileDown);
    checkBoolean("ioWorker", options.ioWorker);
    this.host = host;
    this.port = port;
    this.closeOnError = options.closeOnError ?? true;
    const backoff = initialBackoff(options);
    this.retryStart = backoff.retryStart;
    this.retryMax = backoff.retryMax;
    this.retryFactor = backoff.retryFactor;
    this.retryPeriod = backoff.retryPeriod;
    this.dropWhileDown = options.dropWhileDown ?? false;
    this.tls = checkTls(options.tls);
    this.connectTimeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#useWorker = (options.ioWorker ?? true) && canUseWorker() &&
      this.makePickle === Handler.prototype.makePickle &&
      this.send === Handler.prototype.send &&
      this.transmit === SocketHandler.prototype.transmit;
    checkPositive("connectTimeout", this.connectTimeout);
    if (this.connectTimeout > MAX_TIMER_MS) {
      throw new RangeError(
        `connectTimeout must be at most ${MAX_TIMER_MS} ms: received ${this.connectTimeout}`,
      );
    }
    // Connecting takes ~57 event-loop turns in Deno: a burst logged right
    // after the handler is made would otherwise fill the queue meanwhile.
    queueMicrotask(() => this.openEagerly());
  }

  /**
   * Opens a connection: the factory a subclass overrides for another
   * transport. TCP by default, TLS with `tls`, a Unix socket when `port` is
   * null. Bounded by `connectTimeout`.
   *
   * @returns The connection.
   */
  makeSocket(): Promise<Deno.Conn> {
    if (this.#useWorker) {
      try {
        const io = this.#io ??= this.#makeWorker();
        // connectTimeout bounds the connection, not the worker's start.
        return readyWithin(io.ready, WORKER_START_TIMEOUT_MS).then((ready) => {
          if (!ready) {
            // A worker that does not start: connect from this thread.
            this.#useWorker = false;
            io.terminate();
            if (this.#io === io) this.#io = null;
            return this.makeSocket();
          }
          return withTimeout(
            io.open({
              host: this.host,
              port: this.port,
              path: this.port === null ? this.host : undefined,
              tls: this.tls !== null,
              tlsHostname: this.tls?.hostname,
              caCerts: this.tls?.caCerts,
              connectTimeout: this.connectTimeout,
            }).then((conn) => {
              conn.onWaiting = (poll) => this.pollHook = poll;
              return conn as unknown as Deno.Conn;
            }),
            // The worker bounds the attempt by connectTimeout itself (and
            // says why it failed); this bound is for a worker that does not answer.
            this.connectTimeout + WORKER_ANSWER_MS,
          );
        });
      } catch (error) {
        // No Worker here (a runtime without node:worker_threads): this thread.
        this.#useWorker = false;
        this.handleError(undefined, error);
      }
    }
    const signal = AbortSignal.timeout(this.connectTimeout);
    let attempt: Promise<Deno.Conn>;
    /** The TLS connection once its handshake is under way. */
    let shaking: Deno.Conn | undefined;
    if (this.port === null) {
      attempt = Deno.connect({ transport: "unix", path: this.host });
    } else if (this.tls !== null) {
      // TLS over a TCP connection of our own, so that it gets TCP_NODELAY.
      // The handshake is part of the attempt: a certificate the receiver
      // cannot prove is a failed connection (with backoff), not a lost one.
      const tls = this.tls;
      attempt = Deno.connect({ hostname: this.host, port: this.port, signal })
        .then(async (tcp) => {
          tcp.setNoDelay(true);
          const conn = await Deno.startTls(tcp, {
            hostname: tls.hostname ?? this.host,
            caCerts: tls.caCerts,
          });
          shaking = conn;
          try {
            await conn.handshake();
            return conn;
          } catch (error) {
            closeQuietly(conn);
            throw error;
          }
        });
    } else {
      return Deno.connect({ hostname: this.host, port: this.port, signal })
        .then((conn) => {
          // TCP_NODELAY: with Nagle's algorithm, small writes wait up to the
          // peer's 40 ms delayed ACK in our kernel; a receiver restarted
          // then loses them (measured: runs of up to 83 records, 1.3-5.3%
          // of a 2,000 records/s stream over 10 restarts).
          conn.setNoDelay(true);
          return conn;
        });
    }
    return withTimeout(attempt, this.connectTimeout, () => {
      if (shaking === undefined) return undefined;
      // A peer that takes TCP but never answers the handshake: most often a
      // plain receiver (CPython's cookbook one) given `tls: true`. Reported,
      // where a TimedOut would pass as a socket error, silent by closeOnError.
      closeQuietly(shaking);
      return tlsTimeout(this.host, this.port, this.connectTimeout);
    });
  }

  /**
   * One connection attempt, exactly as CPython's `createSocket`: none
   * before `retryTime`; on failure the wait starts at `retryStart` and is
   * multiplied by `retryFactor` up to `retryMax`, and `retryTime` is set to
   * now plus the wait; on success `retryTime` is null again.
   */
  createSocket(): Promise<void> {
    return this.#attempts.run(() => this.#createSocket());
  }

  async #createSocket(): Promise<void> {
    const now = Date.now() / 1000;
    if (!mayAttempt(this, now) || this.sock !== null || this.closed) return;
    try {
      const conn = await this.makeSocket();
      if (this.closed) {
        conn.close();
        return;
      }
      this.sock = conn;
      this.retryTime = null;
      this.#carried = false;
      this.#connections++;
      this.#watch(conn);
    } catch (error) {
      if (this.closed) return; // the attempt was cut short by close()
      backOff(this, now);
      // closeOnError keeps socket errors (refused, reset, timed out) silent,
      // as CPython's; a missing permission or a failed lookup is reported.
      this.handleError(undefined, error);
      if (
        error instanceof Deno.errors.NotCapable ||
        error instanceof Deno.errors.PermissionDenied
      ) {
        // No retry can succeed: records are dropped (counted) from now on,
        // and close() need not wait for them.
        this.#denied = true;
        this.dropQueued(null); // no notice can reach the receiver
      }
    }
  }

  /**
   * CPython's `SocketHandler.handleError`: with `closeOnError`, a socket
   * error closes the socket silently (the next attempt reopens it); other
   * errors are reported.
   *
   * @param record The record being handled, if any.
   * @param error The error.
   */
  override handleError(
    record: Parameters<Handler["handleError"]>[0],
    error: unknown,
  ): void {
    if (this.closeOnError && isSocketError(error)) {
      this.#drop(this.sock);
      return;
    }
    super.handleError(record, error);
  }

  /** Drops the record when `dropWhileDown` is set and the receiver is known to be down (CPython's behaviour). */
  protected override shouldDrop(): boolean {
    return this.#denied ||
      (this.dropWhileDown && this.sock === null && this.retryTime !== null);
  }

  /** "receiver down"; none once Deno's permissions refused the connection (no notice can follow). */
  protected override dropReason(): string | null {
    return this.#denied ? null : "receiver down";
  }

  /** Opens the connection unless one is open; when that fails, arms the retry timer and returns false. */
  protected override async ensureOpen(): Promise<boolean> {
    if (this.sock !== null) return true;
    if (this.#denied) return false;
    await this.createSocket();
    if (this.sock !== null) return true;
    this.#scheduleRetry();
    return false;
  }

  /** Writes a batch of frames with one or more `conn.write` calls; frames cut short are resent whole on the next connection. */
  protected override async transmit(batch: FrameBatch): Promise<void> {
    const conn = this.sock;
    if (conn === null) {
      throw new TransmitError(0, new Deno.errors.NotConnected("not connected"));
    }
    const data = batch.data;
    let written = 0;
    try {
      while (written < data.length) {
        // Unref'd: a receiver that stopped reading must not keep a finished
        // program alive (exit is bounded by exitTimeout instead).
        written += await writeUnref(
          conn,
          written === 0 ? data : data.subarray(written),
        );
      }
      this.#carried = true;
    } catch (error) {
      // Frames wholly written count as sent; the one cut short is resent
      // whole on the next connection (the receiver drops a cut frame).
      let whole = 0;
      let acc = 0;
      const lengths = batch.lengths;
      while (whole < lengths.length && acc + lengths[whole] <= written) {
        acc += lengths[whole];
        whole++;
      }
      this.handleError(undefined, error);
      this.#drop(conn);
      throw new TransmitError(whole, error);
    }
  }

  /** Stops the retry timer, closes the connection and stops the I/O worker. */
  protected override closeTransport(): void {
    clearTimeout(this.#retryTimer);
    this.#drop(this.sock);
    // Frames of lost connections not sent again by now are dropped.
    for (const conn of this.#lost.splice(0)) {
      const r = conn.takeUnwritten();
      this.unsent(r.lengths.length + r.lost, "close timeout");
    }
    this.#io?.terminate();
    this.#io = null;
  }

  #makeWorker(): IoWorker {
    const io = new IoWorker();
    io.onProgress = () => this.progressed();
    io.onDead = (error) => {
      // The next attempt connects from this thread.
      this.#useWorker = false;
      if (this.#io === io) this.#io = null;
      this.handleError(undefined, error);
    };
    return io;
  }

  /** The frames lost connections of the I/O worker did not write, oldest first. */
  protected override recoverTransport():
    | { data: Uint8Array; lengths: number[] }
    | null {
    const conn = this.#lost.shift();
    if (conn === undefined) return null;
    const r = conn.takeUnwritten();
    this.unsent(r.lost, "connection lost"); // a frame larger than the ring
    // Two lost connections in a row (rare): the older one's frames first.
    const next = this.recoverTransport();
    if (next === null || next.lengths.length === 0) return r;
    const data = new Uint8Array(r.data.length + next.data.length);
    data.set(r.data);
    data.set(next.data, r.data.length);
    return { data, lengths: [...r.lengths, ...next.lengths] };
  }

  /** Whether the I/O worker's ring holds bytes not yet written (then the worker says when it wrote more). */
  protected override transportPending(): boolean {
    const sock = this.sock as unknown;
    return sock instanceof WorkerConn && sock.watch();
  }

  /** Bytes the I/O worker wrote (mod 2^32). */
  protected override transportProgress(): number {
    const sock = this.sock as unknown;
    return sock instanceof WorkerConn ? sock.written : 0;
  }

  /** Connections opened after the first one. */
  protected override reconnectCount(): number {
    return Math.max(0, this.#connections - 1);
  }

  /** Whether a connection is open. */
  protected override isConnected(): boolean {
    return this.sock !== null;
  }

  /** Waits on the connection for EOF or an error: the receiver never sends. */
  #watch(conn: Deno.Conn): void {
    conn.unref(); // a pending read must not keep the program alive
    const buf = new Uint8Array(READ_BUFFER);
    (async () => {
      let error: unknown = new Deno.errors.ConnectionReset(
        "The receiver closed the connection",
      );
      try {
        while ((await conn.read(buf)) !== null) {
          // Data from a receiver is not expected; ignore it.
        }
      } catch (e) {
        error = e;
      }
      if (this.sock === conn) {
        this.handleError(undefined, error);
        this.#drop(conn);
      }
    })();
  }

  /**
   * Closes a connection and forgets it; the send loop reconnects. A
   * connection lost before it carried anything (a receiver that accepts and
   * hangs up at once) counts as a failed attempt, so the backoff applies
   * instead of a tight reconnect loop.
   */
  #drop(conn: Deno.Conn | null): void {
    if (conn === null) return;
    const remote = conn as unknown;
    if (remote instanceof WorkerConn && !this.#lost.includes(remote)) {
      // Frames the worker had not written when the connection went: sent
      // again on the next one, or, once closed, counted as dropped.
      if (this.closed) {
        const r = remote.takeUnwritten();
        this.unsent(r.lengths.length + r.lost, "close timeout");
      } else {
        this.#lost.push(remote);
        this.kick(); // the loop may have ended (closing, queue empty)
      }
    }
    if (this.sock === conn) {
      this.sock = null;
      if (!this.#carried) backOff(this, Date.now() / 1000);
    }
    try {
      conn.close();
    } catch {
      // already closed
    }
    this.wake();
  }

  #scheduleRetry(): void {
    // Also while closing: close() waits up to closeTimeout for the receiver.
    if (
      this.#retryTimer !== undefined || this.closed || this.retryTime === null
    ) return;
    // Clamped: past MAX_TIMER_MS setTimeout fires after 1 ms, and the loop
    // woke every millisecond until retryTime.
    const delay = Math.min(
      MAX_TIMER_MS,
      Math.max(0, this.retryTime * 1000 - Date.now()),
    );
    const timer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.wake();
    }, delay);
    Deno.unrefTimer(timer); // an idle retry must not keep the program alive
    this.#retryTimer = timer;
  }
}

/**
 * The TLS settings `tls` asks for, or null; a TypeError for the wrong
 * types (Deno.startTls said "expected type v8::data::Array" at each attempt).
 */
function checkTls(tls: unknown): TlsOptions | null {
  if (tls === undefined || tls === false || tls === null) return null;
  if (tls === true) return {};
  if (typeof tls !== "object") {
    throw new TypeError(
      `tls must be true, false or { caCerts, hostname }: received ${
        shown(tls)
      }`,
    );
  }
  const { caCerts, hostname } = tls as TlsOptions;
  if (
    caCerts !== undefined &&
    (!Array.isArray(caCerts) || caCerts.some((c) => typeof c !== "string"))
  ) {
    throw new TypeError(
      `tls.caCerts must be an array of PEM strings: received ${
        Array.isArray(caCerts)
          ? "an array holding other values"
          : shown(caCerts)
      }`,
    );
  }
  if (hostname !== undefined && typeof hostname !== "string") {
    throw new TypeError(
      `tls.hostname must be a string: received ${shown(hostname)}`,
    );
  }
  return tls as TlsOptions;
}

/** Whether `ready` resolved within `ms`. */
function readyWithin(ready: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    ready.then(() => true),
    new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms)),
  ]).finally(() => clearTimeout(timer));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** A TLS handshake that got no answer within `ms`: reported, not a socket error. */
function tlsTimeout(host: string, port: number | null, ms: number): Error {
  const error = new Error(
    `TLS handshake with ${host}:${port} got no answer in ${ms} ms: does the receiver speak TLS?`,
  );
  error.name = "TlsHandshakeTimeout";
  error.stack = `${error.name}: ${error.message}`;
  return error;
}

/**
 * `attempt`, rejected after `ms` with what `onTimeout` returns (or a
 * TimedOut); a connection made later is closed.
 */
function withTimeout<T extends Deno.Conn>(
  attempt: Promise<T>,
  ms: number,
  onTimeout?: () => Error | undefined,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(
        onTimeout?.() ??
          new Deno.errors.TimedOut(
            `Connection attempt took more than ${ms} ms`,
          ),
      );
    }, ms);
  });
  attempt.then((conn) => {
    if (timedOut) conn.close();
  }, () => {});
  return Promise.race([attempt, timeout]).finally(() => clearTimeout(timer));
}
