// Copyright the pysocklog authors. MIT license.
/**
 * What SocketHandler and DatagramHandler share: level and filters, the
 * bounded queue, the one send loop, statistics, error reports, flush and
 * close. Subclasses say how to open the transport and how to write a batch.
 *
 * @module
 */

import { formatError } from "../util/_error_text.ts";
import {
  findCaller,
  getLevelNo,
  getMessage,
  type Level,
  type LogRecordDict,
  type LogRecordInit,
  makePickle,
  toLogRecord,
  writeFrame,
} from "../record.ts";
import { type FrameBatch, FrameQueue, newBatch } from "./_queue.ts";

export type { FrameBatch };

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
   * Most records the queue holds. 10,000 records of a typical 500 bytes is
   * 5 MB, and at 100,000 records/s ten seconds' worth of a 1,000 records/s
   * service; past this, the `overflow` policy applies.
   *
   * @default {10_000}
   */
  maxQueueRecords?: number;
  /**
   * Most bytes of frames the queue holds, whatever their count. A record
   * whose frame alone is larger is refused (reported and counted as failed).
   *
   * @default {8_388_608}
   */
  maxQueueBytes?: number;
  /**
   * What a full queue does with a new record: `"drop-newest"` refuses it
   * (the records already waiting keep their order and go first);
   * `"drop-oldest"` makes room by discarding the oldest waiting records.
   * Either way `stats.dropped` counts them.
   *
   * @default {"drop-newest"}
   */
  overflow?: "drop-newest" | "drop-oldest";
  /**
   * Most bytes written in one write: frames are joined up to this size.
   *
   * @default {65_536}
   */
  maxBatchBytes?: number;
  /**
   * How long `close()` waits for queued records to be written, in ms;
   * what is still queued then is dropped and counted.
   *
   * @default {5_000}
   */
  closeTimeout?: number;
  /**
   * Fill `pathname`, `lineno` and `funcName` of records that lack them from
   * the stack frame of the log call, as CPython's `findCaller` does. It
   * costs about 12 µs per record (the rest of a record costs under 1 µs),
   * so it is off unless asked for.
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

/** What a handler has done so far. */
export interface HandlerStats {
  /** Records given to `emit()` (after level and filters). */
  emitted: number;
  /** Records written to the transport. */
  sent: number;
  /** Records discarded: queue full, handler closed, or down with `dropWhileDown`. */
  dropped: number;
  /** Records that could not be encoded or framed. */
  failed: number;
  /** Records waiting in the queue (or being written). */
  queued: number;
  /** Bytes of the records waiting in the queue (or being written). */
  queuedBytes: number;
  /** Connections made after a lost or failed one. */
  reconnects: number;
  /** Whether the transport is open now. */
  connected: boolean;
}

const DEFAULT_MAX_QUEUE_RECORDS = 10_000;
const DEFAULT_MAX_QUEUE_BYTES = 8 * 1024 * 1024;
const DEFAULT_MAX_BATCH_BYTES = 64 * 1024;
const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
const EMPTY_BYTES = new Uint8Array(0);
/** After a report to stderr, further errors are only counted for this long. */
const REPORT_INTERVAL_MS = 5_000;

/** A write that failed after `sent` whole frames of its batch went out. */
export class TransmitError extends Error {
  /** Whole frames written before the failure. */
  readonly sent: number;
  /** Whether the frames not written should be dropped rather than retried. */
  readonly drop: boolean;
  constructor(sent: number, cause: unknown, drop = false) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "TransmitError";
    this.sent = sent;
    this.drop = drop;
  }
}

interface FlushWaiter {
  target: number;
  resolve: () => void;
}

/**
 * The base of the network handlers, after CPython's `logging.Handler`:
 * `handle()` applies the level and filters, `emit()` encodes the record and
 * queues it, and one send loop per handler writes the queue in batches.
 * `emit()` never blocks and never throws.
 */
export abstract class Handler implements AsyncDisposable {
  /** The lowest level handled. */
  level: number;
  /** Filters; a record is handled when every one returns true. */
  filters: Filter[];
  /** Most records queued. */
  readonly maxQueueRecords: number;
  /** Most bytes queued. */
  readonly maxQueueBytes: number;
  /** Full-queue policy. */
  readonly overflow: "drop-newest" | "drop-oldest";
  /** Most bytes per write. */
  readonly maxBatchBytes: number;
  /** How long `close()` waits for the queue, in ms. */
  readonly closeTimeout: number;
  /** Whether records get caller information. */
  readonly caller: boolean;

  /** Frames waiting to be written. */
  readonly #queue: FrameQueue = new FrameQueue();
  #onError?: (error: unknown, record?: LogRecordDict) => void;
  #emitted = 0;
  #sent = 0;
  #dropped = 0;
  #failed = 0;
  /** Frames ever queued, and frames that left the queue for good (sent or dropped). */
  #enqueued = 0;
  #done = 0;
  /** Bytes of the batch being written (counted in queuedBytes). */
  #inFlightBytes = 0;
  #inFlight = 0;
  #waiters: FlushWaiter[] = [];
  #wakeUp: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #closing = false;
  #closed = false;
  #closePromise: Promise<void> | null = null;
  #lastReport = -Infinity;
  #suppressed = 0;
  #reporting = false;

  /**
   * Sets the options every handler shares.
   *
   * @param options Level, filters, queue bounds and error routing.
   */
  constructor(options: HandlerOptions = {}) {
    this.level = getLevelNo(options.level ?? 0);
    this.filters = [...(options.filters ?? [])];
    this.maxQueueRecords = options.maxQueueRecords ?? DEFAULT_MAX_QUEUE_RECORDS;
    this.maxQueueBytes = options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.overflow = options.overflow ?? "drop-newest";
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.caller = options.caller ?? false;
    this.#onError = options.onError;
  }

  /**
   * Sets the lowest level handled.
   *
   * @param level A level number or name.
   */
  setLevel(level: Level): void {
    this.level = getLevelNo(level);
  }

  /**
   * Adds a filter.
   *
   * @param filter Returns false to drop a record.
   */
  addFilter(filter: Filter): void {
    if (!this.filters.includes(filter)) this.filters.push(filter);
  }

  /**
   * Removes a filter.
   *
   * @param filter A filter added before.
   */
  removeFilter(filter: Filter): void {
    this.filters = this.filters.filter((f) => f !== filter);
  }

  /**
   * Whether every filter lets the record through.
   *
   * @param record A record.
   * @returns `true` when it should be handled.
   */
  filter(record: LogRecordDict): boolean {
    for (const f of this.filters) if (!f(record)) return false;
    return true;
  }

  /**
   * Handles a record as CPython's `Handler.handle`: when its level is at
   * least the handler's and the filters pass, emits it. A partial record is
   * completed by `makeLogRecord` first. Never throws.
   *
   * @param record A record dict, or any part of one.
   * @returns Whether the record was emitted.
   */
  handle(record: LogRecordInit): boolean {
    if (
      this.filters.length === 0 && !this.caller && !this.#closing &&
      this.emit === Handler.prototype.emit && this.#framesInPlace()
    ) {
      // Nothing needs a record object: the frame is written from `record`.
      const emitted = this.#emitted;
      try {
        if (!writeFrame(record, this.#countFrame, this.level)) return false;
      } catch (error) {
        if (this.#emitted === emitted) this.#emitted++;
        this.#failed++;
        this.handleError(record as LogRecordDict, error);
      }
      return true;
    }
    let full: LogRecordDict;
    try {
      if (this.caller && record.pathname === undefined) {
        const where = findCaller();
        if (where !== undefined) record = { ...record, ...where };
      }
      full = toLogRecord(record);
      if (full.levelno < this.level || !this.filter(full)) return false;
    } catch (error) {
      this.#failed++;
      this.handleError(record as LogRecordDict, error);
      return false;
    }
    this.emit(full);
    return true;
  }

  /**
   * Encodes the record and queues its frame for the send loop. Returns at
   * once; never throws. A record that cannot be encoded goes to
   * `handleError` and is counted in `stats.failed`.
   *
   * @param record A record dict, or any part of one.
   */
  emit(record: LogRecordInit): void {
    if (this.#closing) {
      this.#dropped++;
      return;
    }
    this.#emitted++;
    try {
      if (this.#framesInPlace()) {
        writeFrame(record, this.#queueFrame);
        return;
      }
      const frame = this.makePickle(record);
      this.checkFrame(frame.length);
      this.send(frame);
    } catch (error) {
      this.#failed++;
      this.handleError(record as LogRecordDict, error);
    }
  }

  /**
   * The framed bytes for a record, exactly as sent: a 4-byte big-endian
   * length and a protocol-2 pickle of the record's dict.
   *
   * @param record A record dict, or any part of one.
   * @returns The frame.
   */
  makePickle(record: LogRecordInit): Uint8Array {
    return makePickle(record);
  }

  /**
   * Queues an already framed record (as `makePickle` returns) for sending.
   *
   * @param frame The frame.
   */
  send(frame: Uint8Array): void {
    this.#enqueue(frame, 0, frame.length);
  }

  /**
   * Whether frames can be queued where the encoder writes them: neither
   * `makePickle` nor `send` is overridden (else they get each frame).
   */
  #framesInPlace(): boolean {
    return this.makePickle === Handler.prototype.makePickle &&
      this.send === Handler.prototype.send;
  }

  /** writeFrame's sink for handle(): counts the record emitted, then as #queueFrame. */
  readonly #countFrame = (
    buf: Uint8Array,
    offset: number,
    length: number,
  ): boolean => {
    this.#emitted++;
    return this.#queueFrame(buf, offset, length);
  };

  /** writeFrame's sink: checks and queues a frame the encoder wrote. */
  readonly #queueFrame = (
    buf: Uint8Array,
    offset: number,
    length: number,
  ): boolean => {
    this.checkFrame(length);
    return this.#enqueue(buf, offset, length);
  };

  /** Queues `buf[offset, offset + length)`; returns false when it was dropped. */
  #enqueue(buf: Uint8Array, offset: number, length: number): boolean {
    if (this.#closing || this.shouldDrop()) {
      this.#dropped++;
      this.wake();
      return false;
    }
    const q = this.#queue;
    if (
      q.length + this.#inFlight >= this.maxQueueRecords ||
      q.bytes + this.#inFlightBytes + length > this.maxQueueBytes
    ) {
      if (this.overflow === "drop-newest") {
        this.#dropped++;
        return false;
      }
      while (
        q.length > 0 &&
        (q.length + this.#inFlight >= this.maxQueueRecords ||
          q.bytes + this.#inFlightBytes + length > this.maxQueueBytes)
      ) {
        q.shift();
        this.#dropped++;
        this.#done++;
      }
      if (q.length + this.#inFlight >= this.maxQueueRecords) {
        this.#dropped++; // only the batch in flight is left: nothing to make room with
        return false;
      }
    }
    q.push(buf, offset, length);
    this.#enqueued++;
    if (this.#loop === null) this.#loop = this.#run();
    else this.wake();
    return true;
  }

  /**
   * Throws when a frame cannot be sent by this handler: by default, when it
   * alone is larger than `maxQueueBytes`.
   *
   * @param length The frame's length in bytes, prefix included.
   */
  protected checkFrame(length: number): void {
    if (length > this.maxQueueBytes) {
      throw new RangeError(
        `Record frame is ${length} bytes, more than maxQueueBytes (${this.maxQueueBytes})`,
      );
    }
  }

  /**
   * Whether a record should be dropped instead of queued (CPython's
   * drop-while-down behaviour, when asked for).
   */
  protected shouldDrop(): boolean {
    return false;
  }

  /**
   * Reports an error, as CPython's `Handler.handleError`: to `onError` when
   * given, else to stderr as a `--- Logging error ---` block, once per burst
   * (further errors within 5 s are counted and summed up in the next report).
   * Never logs through the handler itself.
   *
   * @param record The record being handled, if any.
   * @param error The error.
   */
  handleError(record: LogRecordDict | undefined, error: unknown): void {
    if (this.#reporting) return;
    this.#reporting = true;
    try {
      if (this.#onError !== undefined) {
        try {
          this.#onError(error, record);
        } catch {
          // An error handler that fails has nowhere left to report to.
        }
        return;
      }
      const now = Date.now();
      if (now - this.#lastReport < REPORT_INTERVAL_MS) {
        this.#suppressed++;
        return;
      }
      this.#lastReport = now;
      let text = "--- Logging error ---\n";
      if (this.#suppressed > 0) {
        text +=
          `(${this.#suppressed} more logging errors were suppressed before this one)\n`;
        this.#suppressed = 0;
      }
      text += (error instanceof Error ? formatError(error) : String(error)) +
        "\n";
      if (record !== undefined) {
        let msg: string;
        try {
          msg = getMessage(record);
        } catch {
          msg = String(record.msg);
        }
        text += `Logged from ${this.constructor.name}: name=${
          String(record.name)
        }, msg=${JSON.stringify(msg)}\n`;
      }
      console.error(text.trimEnd());
    } catch {
      // Reporting must never throw into the caller.
    } finally {
      this.#reporting = false;
    }
  }

  /**
   * Resolves when every record queued before the call was written (or
   * dropped, or the handler closed).
   *
   * @returns A promise that never rejects.
   */
  flush(): Promise<void> {
    const target = this.#enqueued;
    if (this.#done >= target || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.push({ target, resolve });
      this.wake();
    });
  }

  /**
   * Flushes (waiting at most `closeTimeout` ms), then closes the transport.
   * Records still queued after that are dropped and counted. Idempotent.
   *
   * @returns A promise that never rejects.
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  /** Same as {@linkcode Handler.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.wake();
    if (this.#done < this.#enqueued) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.flush(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.closeTimeout);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#closed = true;
    const left = this.#queue.clear();
    this.#dropped += left;
    this.#done += left;
    this.closeTransport();
    this.wake();
    await this.#loop;
    this.#settle(true);
  }

  /** What the handler has done so far. */
  get stats(): HandlerStats {
    return {
      emitted: this.#emitted,
      sent: this.#sent,
      dropped: this.#dropped,
      failed: this.#failed,
      queued: this.#queue.length + this.#inFlight,
      queuedBytes: this.#queue.bytes + this.#inFlightBytes,
      reconnects: this.reconnectCount(),
      connected: this.isConnected(),
    };
  }

  /** Whether the handler is closing or closed. */
  protected get closing(): boolean {
    return this.#closing;
  }

  /** Whether the handler is closed: the transport is to stay shut. */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** Wakes the send loop (new records, a timer, a close). */
  protected wake(): void {
    const w = this.#wakeUp;
    if (w !== null) {
      this.#wakeUp = null;
      w();
    }
  }

  /**
   * Opens the transport if it is not open and may be opened now.
   * Returns whether it is open.
   */
  protected abstract ensureOpen(): Promise<boolean>;
  /**
   * Writes a batch; returns when all of it was written, or throws a
   * {@linkcode TransmitError} saying how many whole frames were.
   */
  protected abstract transmit(batch: FrameBatch): Promise<void>;
  /** Closes the transport (and any timers); the handler is closed. */
  protected abstract closeTransport(): void;
  /** Connections made after the first. */
  protected abstract reconnectCount(): number;
  /** Whether the transport is open. */
  protected abstract isConnected(): boolean;

  async #run(): Promise<void> {
    const batch = newBatch();
    while (!this.#closed) {
      if (this.#queue.length === 0) {
        this.#settle(false);
        if (this.#closing) break;
        await this.#idle();
        continue;
      }
      let open = false;
      try {
        open = await this.ensureOpen();
      } catch (error) {
        this.handleError(undefined, error);
      }
      if (this.#closed) break;
      if (!open) {
        await this.#idle();
        continue;
      }
      const size = this.#queue.take(this.maxBatchBytes, batch);
      const count = batch.lengths.length;
      this.#inFlight = count;
      this.#inFlightBytes = size;
      let sent = count;
      let drop = false;
      try {
        await this.transmit(batch);
      } catch (error) {
        sent = error instanceof TransmitError ? error.sent : 0;
        drop = error instanceof TransmitError && error.drop;
      }
      this.#inFlight = 0;
      this.#inFlightBytes = 0;
      this.#sent += sent;
      this.#done += sent;
      if (sent < count) {
        if (drop || this.#closed) {
          this.#dropped += count - sent;
          this.#done += count - sent;
        } else {
          this.#queue.putBack(batch, sent);
        }
      }
      this.#queue.release();
      batch.data = EMPTY_BYTES;
      this.#settle(false);
    }
    this.#settle(true);
    this.#loop = null;
  }

  /** Waits until `wake()` is called. */
  #idle(): Promise<void> {
    return new Promise((resolve) => {
      this.#wakeUp = resolve;
    });
  }

  #settle(all: boolean): void {
    if (this.#waiters.length === 0) return;
    const done = this.#done;
    const keep: FlushWaiter[] = [];
    for (const w of this.#waiters) {
      if (all || w.target <= done) w.resolve();
      else keep.push(w);
    }
    this.#waiters = keep;
  }
}
