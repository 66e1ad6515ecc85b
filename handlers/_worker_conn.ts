// Copyright the pysocklog authors. MIT license.
// SocketHandler's connection when its I/O runs in a Worker.
//
// Deno polls sockets about once every 57 event-loop turns of a busy
// thread, and per poll the kernel takes at most its send buffer (4-8 MB on
// loopback): a program logging thousands of records a turn outruns its own
// socket. Here the socket lives in a Worker (_io_worker.js), whose event
// loop is idle and polls at once; the handler's thread copies each batch
// into a shared ring and goes on. What the ring cannot take waits in the
// handler's queue, as before.
import { Worker } from "node:worker_threads";

import { CTL, STATE } from "./_ring.js";

export { CTL, STATE };

/** Where to connect (what SocketHandler's options say). */
export interface ConnectOptions {
  host: string;
  port: number | null;
  path?: string;
  tls: boolean;
  tlsHostname?: string;
  caCerts?: string[];
  connectTimeout: number;
}

/** Messages to the worker. */
export type ToWorker =
  | { t: "open"; epoch: number; options: ConnectOptions }
  | { t: "close"; epoch: number };

/** Messages from the worker. */
export type FromWorker =
  | { t: "ready"; epoch: number }
  | { t: "opened"; epoch: number }
  | { t: "failed"; epoch: number; error: { name: string; message: string } }
  | { t: "lost"; epoch: number; error: { name: string; message: string } }
  | { t: "progress"; epoch: number };

/** Bytes of the ring: what the worker may hold beyond the kernel's buffer. */
export const RING_BYTES = 8 * 1024 * 1024;

function toError(e: { name: string; message: string }): Error {
  const Class = (Deno.errors as unknown as Record<string, ErrorConstructor>)[
    e.name
  ];
  const error = typeof Class === "function"
    ? new Class(e.message)
    : new Error(e.message);
  if (typeof Class !== "function") error.name = e.name;
  // Its stack here would be this thread's message handling: no help.
  error.stack = `${error.name}: ${error.message}`;
  return error;
}

const WORKER_URL = new URL("./_io_worker.js", import.meta.url);

/**
 * Whether an I/O worker can be made here without asking: the module is a
 * local file this program may read (Deno's `node:worker_threads` checks
 * `--allow-read` for it) and `SharedArrayBuffer` exists.
 */
export function canUseWorker(): boolean {
  try {
    if (WORKER_URL.protocol !== "file:") return false;
    if (typeof SharedArrayBuffer !== "function") return false;
    return Deno.permissions.querySync({ name: "read", path: WORKER_URL })
      .state === "granted";
  } catch {
    return false;
  }
}

/** The worker and its ring, shared by the handler's successive connections. */
export class IoWorker {
  readonly ctl: Int32Array;
  readonly ring: Uint8Array;
  readonly #worker: Worker;
  /** Where each connection's byte counts start (mod 2^32). */
  readonly startAt: number;
  #epoch = 0;
  #current: WorkerConn | null = null;
  #opening:
    | {
      epoch: number;
      resolve: (c: WorkerConn) => void;
      reject: (e: Error) => void;
    }
    | null = null;
  #closed = false;
  /** Called after the worker wrote something, when the handler asked (CTL.WANT). */
  onProgress: () => void = () => {};
  /** Called when the worker itself failed (its module did not load, ...). */
  onDead: (error: Error) => void = () => {};
  /** Resolves when the worker has started (its start is not part of connectTimeout). */
  readonly ready: Promise<void>;
  #markReady!: () => void;

  /**
   * @param ringBytes Bytes of the ring.
   * @param startAt Where each connection's byte counts (CTL.HEAD, CTL.TAIL)
   * start, mod 2^32: 0, or, in tests, just below 2^31 or 2^32, so that a
   * few megabytes cross the points where they wrap.
   */
  constructor(ringBytes = RING_BYTES, startAt = 0) {
    this.startAt = startAt >>> 0;
    this.ready = new Promise((r) => this.#markReady = r);
    const sab = new SharedArrayBuffer(CTL.SIZE * 4 + ringBytes);
    this.ctl = new Int32Array(sab, 0, CTL.SIZE);
    this.ring = new Uint8Array(sab, CTL.SIZE * 4);
    this.#worker = new Worker(WORKER_URL, {
      workerData: { sab },
    });
    this.#worker.unref(); // never keeps the program alive; the handler does when it must
    // No "progress" messages until someone waits (see WorkerConn.watch).
    Atomics.store(this.ctl, CTL.WANT, 0);
    this.#worker.on("message", (m: FromWorker) => this.#message(m));
    this.#worker.on("error", (e: unknown) => {
      const error = e instanceof Error ? e : new Error(String(e));
      this.#closed = true;
      this.#markReady(); // whoever waits for the start: open() now refuses
      this.#opening?.reject(error);
      this.#opening = null;
      this.#current?.lost(error);
      this.onDead(error);
    });
  }

  /** Opens a connection in the worker; resolves with it, or rejects with why not. */
  open(options: ConnectOptions): Promise<WorkerConn> {
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("worker closed"));
    }
    const epoch = ++this.#epoch;
    this.#current?.lost(new Deno.errors.ConnectionAborted("replaced"));
    Atomics.store(this.ctl, CTL.HEAD, this.startAt | 0);
    Atomics.store(this.ctl, CTL.TAIL, this.startAt | 0);
    Atomics.store(this.ctl, CTL.STATE, STATE.OPENING);
    this.#opening?.reject(new Deno.errors.ConnectionAborted("replaced"));
    return new Promise((resolve, reject) => {
      this.#opening = { epoch, resolve, reject };
      this.#post({ t: "open", epoch, options });
    });
  }

  #post(m: ToWorker): void {
    this.#worker.postMessage(m);
  }

  #message(m: FromWorker): void {
    if (m.t === "ready") return this.#markReady();
    if (m.epoch !== this.#epoch) return;
    if (m.t === "opened" && this.#opening?.epoch === m.epoch) {
      const conn = new WorkerConn(this, m.epoch);
      this.#current = conn;
      this.#opening.resolve(conn);
      this.#opening = null;
    } else if (m.t === "failed" && this.#opening?.epoch === m.epoch) {
      this.#opening.reject(toError(m.error));
      this.#opening = null;
    } else if (m.t === "lost") {
      this.#current?.lost(toError(m.error));
    } else if (m.t === "progress") {
      // One message per request: whoever still waits asks again.
      Atomics.store(this.ctl, CTL.WANT, 0);
      this.#current?.poll();
      this.onProgress();
    }
  }

  /** Closes the connection of `epoch` in the worker. */
  closeConn(epoch: number): void {
    if (epoch === this.#epoch) this.#post({ t: "close", epoch });
  }

  /** Stops the worker for good. */
  terminate(): void {
    this.#closed = true;
    // A connection attempt waiting for the start (up to 10 s) goes on, and
    // open() refuses: close() waited it out when the worker had not started.
    this.#markReady();
    this.#opening?.reject(new Deno.errors.BadResource("worker closed"));
    this.#opening = null;
    this.#current?.lost(new Deno.errors.BadResource("closed"));
    this.#worker.terminate();
  }
}

/**
 * A connection whose writes go to the worker's ring: `write` returns as
 * soon as the bytes are in the ring (or part of them, as a socket's partial
 * write), and waits only when the ring is full. It is what SocketHandler
 * keeps in `sock`, with the surface of a `Deno.Conn` it uses.
 */
export class WorkerConn {
  readonly #io: IoWorker;
  readonly #epoch: number;
  #head = 0;
  /** Where the first frame not known to be wholly written starts (absolute, mod 2^32). */
  #frameStart = 0;
  /** Where that frame ends, when it is larger than the ring (its start is written over). */
  #bigEnd: number | null = null;
  #lostError: Error | null = null;
  #roomWaiter:
    | {
      data: Uint8Array;
      resolve: (n: number) => void;
      reject: (e: Error) => void;
    }
    | null = null;
  #readWaiters: { resolve: (n: null) => void; reject: (e: Error) => void }[] =
    [];

  /** Set while a write waits for room: the handler calls it on each record. */
  onWaiting: (poll: (() => void) | null) => void = () => {};

  constructor(io: IoWorker, epoch: number) {
    this.#io = io;
    this.#epoch = epoch;
    this.#head = this.#frameStart = io.startAt;
  }

  /** Bytes in the ring not yet written to the socket. */
  get pending(): number {
    if (this.#lostError !== null) return 0;
    return (this.#head - Atomics.load(this.#io.ctl, CTL.TAIL)) >>> 0;
  }

  /** Bytes the worker has written to the socket (mod 2^32): progress. */
  get written(): number {
    return Atomics.load(this.#io.ctl, CTL.TAIL) >>> 0;
  }

  /**
   * Whether the ring holds bytes not yet written; if so, asks the worker for
   * a "progress" message after its next write (flush, close and exit wait
   * on it). Asked only while someone waits: a message after every write
   * (one per ~100 records) left ~120 bytes each in V8's old space, which
   * grew until a major GC raised peak RSS by ~50 MB (10M records: 197 MB
   * against 144 at 1M).
   */
  watch(): boolean {
    if (this.pending === 0) return false;
    Atomics.store(this.#io.ctl, CTL.WANT, 1);
    // Asked before looking again: a write that ended meanwhile either
    // shows here or saw the request (Atomics are sequentially consistent).
    return this.pending > 0;
  }

  /**
   * Moves #frameStart past the frames the worker has wholly written: the
   * ring must keep the length prefix of the first frame not yet written,
   * to count what a lost connection loses.
   */
  #advance(tail: number): void {
    if (this.#bigEnd !== null) {
      if (((this.#bigEnd - tail) | 0) > 0) return;
      this.#frameStart = this.#bigEnd;
      this.#bigEnd = null;
    }
    let pos = this.#frameStart;
    for (;;) {
      const end = this.#frameEnd(pos);
      if (end === -1 || ((end - tail) | 0) > 0) break;
      pos = end;
    }
    this.#frameStart = pos;
  }

  /** Where the frame starting at `pos` ends, or -1 when its length prefix is not wholly in the ring yet. */
  #frameEnd(pos: number): number {
    if (((this.#head - pos) >>> 0) < 4) return -1;
    const ring = this.#io.ring;
    const size = ring.length;
    let len = 0;
    for (let k = 0; k < 4; k++) len = len * 256 + ring[(pos + k) % size];
    return (pos + 4 + len) >>> 0;
  }

  /** Copies as much of `data` as the ring has room for; returns how much. */
  #put(data: Uint8Array): number {
    const ring = this.#io.ring;
    const size = ring.length;
    const tail = Atomics.load(this.#io.ctl, CTL.TAIL) >>> 0;
    this.#advance(tail);
    let room = size - ((this.#head - this.#frameStart) >>> 0);
    if (room === 0 && this.#bigEnd === null) {
      const end = this.#frameEnd(this.#frameStart);
      if (end !== -1 && ((end - this.#head) | 0) > 0) {
        // The first frame not yet written is larger than the ring: remember
        // where it ends, for its length prefix will be written over.
        this.#bigEnd = end;
      }
    }
    if (this.#bigEnd !== null) room = size - ((this.#head - tail) >>> 0);
    const n = Math.min(room, data.length);
    if (n === 0) return 0;
    const start = this.#head % size;
    const first = Math.min(n, size - start);
    ring.set(first === data.length ? data : data.subarray(0, first), start);
    if (n > first) ring.set(data.subarray(first, n), 0);
    this.#head = (this.#head + n) >>> 0;
    Atomics.store(this.#io.ctl, CTL.HEAD, this.#head | 0);
    Atomics.notify(this.#io.ctl, CTL.HEAD);
    return n;
  }

  /** As `Deno.Conn.write`: resolves with the bytes taken (into the ring). */
  write(data: Uint8Array): Promise<number> {
    if (this.#lostError !== null) return Promise.reject(this.#lostError);
    let n = this.#put(data);
    if (n > 0) return Promise.resolve(n);
    Atomics.store(this.#io.ctl, CTL.WANT, 1); // a message when room is made
    n = this.#put(data); // room made before the request was seen
    if (n > 0) return Promise.resolve(n);
    return new Promise((resolve, reject) => {
      this.#roomWaiter = { data, resolve, reject };
      this.onWaiting(this.#poll);
    });
  }

  /** Checks for room for a waiting write (the worker made progress). */
  poll(): void {
    const w = this.#roomWaiter;
    if (w === null) return;
    let n = this.#put(w.data);
    if (n === 0) {
      Atomics.store(this.#io.ctl, CTL.WANT, 1); // still waiting: ask again
      n = this.#put(w.data);
      if (n === 0) return;
    }
    this.#roomWaiter = null;
    this.onWaiting(null);
    w.resolve(n);
  }

  readonly #poll = () => this.poll();

  /** As `Deno.Conn.read`: the receiver never sends; resolves null (EOF) or rejects when the connection is lost. */
  read(_buf: Uint8Array): Promise<number | null> {
    if (this.#lostError !== null) return Promise.reject(this.#lostError);
    return new Promise((resolve, reject) => {
      this.#readWaiters.push({ resolve, reject });
    });
  }

  /**
   * The frames wholly in the ring but not wholly written to the socket,
   * copied out, once: what a lost connection did not send. (A frame only
   * partly in the ring is sent again by the handler, from its batch.)
   */
  takeUnwritten(): { data: Uint8Array; lengths: number[]; lost: number } {
    const ring = this.#io.ring;
    const size = ring.length;
    this.#advance(Atomics.load(this.#io.ctl, CTL.TAIL) >>> 0);
    let start = this.#frameStart;
    let lost = 0;
    if (this.#bigEnd !== null) {
      // A frame larger than the ring, its start written over: wholly in
      // the ring, it cannot be sent again (lost); partly, the handler
      // sends it again from its batch.
      if (((this.#bigEnd - this.#head) | 0) > 0) start = this.#head;
      else {
        lost = 1;
        start = this.#bigEnd;
      }
    }
    let pos = start;
    const lengths: number[] = [];
    for (;;) {
      const end = this.#frameEnd(pos);
      if (end === -1 || ((end - this.#head) | 0) > 0) break; // partly in the ring
      lengths.push((end - pos) >>> 0);
      pos = end;
    }
    const bytes = (pos - start) >>> 0;
    const data = new Uint8Array(bytes);
    const s0 = start % size;
    const first = Math.min(bytes, size - s0);
    data.set(ring.subarray(s0, s0 + first));
    if (bytes > first) data.set(ring.subarray(0, bytes - first), first);
    this.#frameStart = this.#head;
    this.#bigEnd = null;
    return { data, lengths, lost };
  }

  /** The worker lost the connection (or the handler closed it). */
  lost(error: Error): void {
    if (this.#lostError !== null) return;
    this.#lostError = error;
    const w = this.#roomWaiter;
    this.#roomWaiter = null;
    if (w !== null) this.onWaiting(null);
    w?.reject(error);
    for (const r of this.#readWaiters) r.reject(error);
    this.#readWaiters = [];
  }

  /** Whether it was lost. */
  get isLost(): boolean {
    return this.#lostError !== null;
  }

  /** As `Deno.Conn.close`. */
  close(): void {
    this.lost(new Deno.errors.BadResource("closed"));
    this.#io.closeConn(this.#epoch);
  }

  /** Nothing to do: the worker sets TCP_NODELAY. */
  setNoDelay(_on?: boolean): void {}
  /** Nothing to do: the worker never keeps the program alive. */
  unref(): void {}
  /** Nothing to do. */
  ref(): void {}
}
