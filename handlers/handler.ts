// Copyright the pysocklog authors. MIT license.
/**
 * What SocketHandler and DatagramHandler share: level and filters, the
 * bounded queue, the one send loop, drop notices, statistics, error
 * reports, flush, close and exit. Subclasses say how to open the transport
 * and how to write a batch; options and errors are in `_options.ts`.
 *
 * Over 600 lines, as one job: the send path's state (admission, the
 * counters, the loop, flush, close and exit) keeps one account across all
 * of it (every record accepted is sent, or dropped and announced, or
 * failed), so its counters are private fields of one class rather than
 * spread over modules.
 *
 * @module
 */

import { formatError, safeString } from "../util/_error_text.ts";
import { clip, Reporter } from "../util/_reporter.ts";
import {
  findCallerAbove,
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
import {
  checkBoolean,
  checkPositive,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_EXIT_TIMEOUT_MS,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_MAX_QUEUE_BYTES,
  DEFAULT_MAX_QUEUE_RECORDS,
  dropReport,
  EMPTY_BYTES,
  errorKind,
  EXIT_POLL_MS,
  type Filter,
  type FlushOptions,
  type HandlerOptions,
  type HandlerStats,
  MAX_TIMER_MS,
  NOTICE_LEVEL,
  NOTICE_NAME,
  NOTICE_RETRY_MS,
  shown,
  TransmitError,
} from "./_options.ts";

export type { FrameBatch };
export {
  checkAddress,
  checkPositive,
  type Filter,
  type FlushOptions,
  type HandlerOptions,
  type HandlerStats,
  type RetryOptions,
  TransmitError,
} from "./_options.ts";

/** Period of the timer that keeps a program alive while a flush() waits (it does nothing). */
const KEEP_ALIVE_MS = 60 * 60 * 1000;

/** The level number of `level`; a RangeError for NaN (every record passed). */
function checkLevel(level: Level): number {
  const n = getLevelNo(level);
  if (Number.isNaN(n)) throw new RangeError("level must not be NaN");
  return n;
}

/** A TypeError for a record that is not an object (`null`, a string). */
function notARecord(record: unknown): TypeError {
  return new TypeError(`a record must be an object: received ${shown(record)}`);
}

/** A record logged once the handler was closed: reported without a stack. */
function closedReport(text: string): Error {
  return dropReport(`a log record was dropped: ${text}`, "HandlerClosed");
}

/**
 * Most characters of an error's text a report prints: a stack of 10 frames
 * is 600-1,000; an error thrown with a 1 MB message printed all of it.
 */
const MAX_ERROR_CHARS = 2_000;

/**
 * An error's text for a report: a missing permission as its one line (its
 * stack is Deno's internals), anything else as its stack; at most
 * {@linkcode MAX_ERROR_CHARS} characters.
 */
function errorReport(error: unknown): string {
  if (
    error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied
  ) {
    return clip(`${error.name}: ${error.message}`, MAX_ERROR_CHARS);
  }
  return clip(
    error instanceof Error ? formatError(error) : String(error),
    MAX_ERROR_CHARS,
  );
}

interface FlushWaiter {
  target: number;
  /** Also wait until no drop notice is owed. */
  notice: boolean;
  resolve: (done: boolean) => void;
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
  /** How long a finished program waits for records that make no progress, in ms. */
  readonly exitTimeout: number;
  /** Whether dropped records are announced to the receiver. */
  readonly dropNotices: boolean;
  /** Whether records get caller information. */
  readonly caller: boolean;

  /** Frames waiting to be written. */
  readonly #queue: FrameQueue = new FrameQueue();
  #onError?: (error: unknown, record?: LogRecordDict) => void;
  /**
   * Whether `handle()` may write a frame from the record given: neither
   * `emit`, `makePickle` nor `send` is overridden. Decided once, when the
   * handler is made, instead of per record.
   */
  readonly #fast: boolean;
  /** Whether frames are queued where the encoder writes them (`makePickle` and `send` not overridden). */
  readonly #inPlace: boolean;
  #emitted = 0;
  #sent = 0;
  #dropped = 0;
  #failed = 0;
  #notices = 0;
  /** Records logged once closed (reported one by one, not by close()). */
  #lateDrops = 0;
  /** Records dropped since the last notice, and why. */
  #owed = 0;
  #owedReasons: string[] = [];
  /** Frames ever queued, and frames that left the queue for good (sent or dropped). */
  #enqueued = 0;
  #done = 0;
  /** Bytes of the batch being written (counted in queuedBytes). */
  #inFlightBytes = 0;
  #inFlight = 0;
  #waiters: FlushWaiter[] = [];
  /** flush() and close() calls waiting, and the timer that holds the program meanwhile. */
  #holds = 0;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #wakeUp: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  /** Open the transport even with nothing queued (an eager connection). */
  #openWanted = false;
  #closing = false;
  #closed = false;
  /** The program is exiting: what is left was counted as dropped. */
  #abandoned = false;
  #closePromise: Promise<void> | null = null;
  readonly #reporter = new Reporter();
  #reporting = false;
  #exitDeadline: number | null = null;
  #exitProgress = -1;
  #exitTimer: ReturnType<typeof setTimeout> | undefined;
  #onBeforeUnload = (event: Event) => this.#beforeUnload(event);
  #onUnload = () => this.#abandon("exit");

  /**
   * Sets the options every handler shares.
   *
   * @param options Level, filters, queue bounds and error routing.
   * @throws {RangeError} When a bound or timeout is not a positive number.
   */
  constructor(options: HandlerOptions = {}) {
    options ??= {}; // null from JavaScript: no options
    this.level = checkLevel(options.level ?? 0);
    const filters: unknown = options.filters ?? [];
    if (
      !Array.isArray(filters) || filters.some((f) => typeof f !== "function")
    ) {
      throw new TypeError(
        `filters must be an array of functions: received ${shown(filters)}`,
      );
    }
    checkBoolean("dropNotices", options.dropNotices);
    checkBoolean("caller", options.caller);
    this.filters = [...filters];
    this.maxQueueRecords = options.maxQueueRecords ?? DEFAULT_MAX_QUEUE_RECORDS;
    this.maxQueueBytes = options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.overflow = options.overflow ?? "drop-newest";
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.exitTimeout = options.exitTimeout ?? DEFAULT_EXIT_TIMEOUT_MS;
    this.dropNotices = options.dropNotices ?? true;
    this.caller = options.caller ?? false;
    this.#onError = options.onError;
    if (this.#onError !== undefined && typeof this.#onError !== "function") {
      // Called inside a try: a value that is no function hid every error.
      throw new TypeError(
        `onError must be a function: received ${shown(this.#onError)}`,
      );
    }
    checkPositive("maxQueueRecords", this.maxQueueRecords);
    checkPositive("maxQueueBytes", this.maxQueueBytes);
    checkPositive("maxBatchBytes", this.maxBatchBytes);
    checkPositive("closeTimeout", this.closeTimeout, true);
    checkPositive("exitTimeout", this.exitTimeout, true);
    if (this.overflow !== "drop-newest" && this.overflow !== "drop-oldest") {
      throw new RangeError(
        `overflow must be "drop-newest" or "drop-oldest": received "${this.overflow}"`,
      );
    }
    this.#inPlace = this.makePickle === Handler.prototype.makePickle &&
      this.send === Handler.prototype.send;
    this.#fast = this.#inPlace && this.emit === Handler.prototype.emit;
    globalThis.addEventListener?.("beforeunload", this.#onBeforeUnload);
    globalThis.addEventListener?.("unload", this.#onUnload);
  }

  /**
   * Sets the lowest level handled.
   *
   * @param level A level number or name.
   */
  setLevel(level: Level): void {
    this.level = checkLevel(level);
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
   * completed by `makeLogRecord` first. Never throws. Once `close()` was
   * called, a record that passes is dropped and the result is `false` (see
   * {@linkcode Handler.emit}).
   *
   * @param record A record dict, or any part of one.
   * @returns Whether the record was emitted.
   */
  handle(record: LogRecordInit): boolean {
    if (typeof record !== "object" || record === null) {
      this.#emitted++;
      this.#failed++;
      this.handleError(undefined, notARecord(record));
      return true;
    }
    if (this.#fast && this.filters.length === 0 && !this.#closing) {
      // Nothing needs a record object: the frame is written from `record`.
      const emitted = this.#emitted;
      try {
        // Caller fields go to the encoder, not into a copy of the record.
        const where = this.caller && record.pathname === undefined
          ? findCallerAbove(Handler.prototype.handle)
          : undefined;
        if (!writeFrame(record, this.#countFrame, this.level, where)) {
          return false;
        }
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
        const where = findCallerAbove(Handler.prototype.handle);
        if (where !== undefined) record = { ...record, ...where };
      }
      full = toLogRecord(record);
      if (full.levelno < this.level || !this.filter(full)) return false;
    } catch (error) {
      // Counted as the path without filters counts it (emitted and failed).
      this.#emitted++;
      this.#failed++;
      this.handleError(record as LogRecordDict, error);
      return false;
    }
    const closing = this.#closing;
    this.emit(full);
    return !closing;
  }

  /**
   * Encodes the record and queues its frame for the send loop. Returns at
   * once; never throws. A record that cannot be encoded goes to
   * `handleError` and is counted in `stats.failed`. Once `close()` was
   * called, the record is dropped (counted): while `close()` runs, a drop
   * notice tells the receiver; after it, `handleError` reports it.
   *
   * @param record A record dict, or any part of one.
   */
  emit(record: LogRecordInit): void {
    this.#emitted++;
    if (typeof record !== "object" || record === null) {
      this.#failed++;
      this.handleError(undefined, notARecord(record));
      return;
    }
    if (this.#closing) {
      if (!this.#closed && this.dropNotices) {
        this.dropped(1, "closing");
      } else {
        this.#dropped++;
        this.#lateDrops++;
        this.handleError(
          record as LogRecordDict,
          closedReport(`${this.constructor.name} is closed`),
        );
      }
      return;
    }
    try {
      if (this.#inPlace) {
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
   * Counts a record that could not be made, as `emit()` counts one it
   * cannot encode (`stats.emitted` and `stats.failed`), and reports the
   * error through `handleError`: for adapters, whose conversion of a
   * framework's record (a formatter, an argument's getter) may throw.
   * Never throws.
   *
   * @param record The part of the record made, if any.
   * @param error Why it could not be made.
   */
  fail(record: LogRecordDict | undefined, error: unknown): void {
    this.#emitted++;
    this.#failed++;
    this.handleError(record, error);
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

  /** writeInitFrame's sink: counts the record emitted, then as #queueFrame. */
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
    if (this.#closed) {
      this.#dropped++;
      return false;
    }
    if (this.shouldDrop()) {
      const reason = this.dropReason();
      if (reason === null) this.#dropped++;
      else this.dropped(1, reason);
      return false;
    }
    const q = this.#queue;
    if (
      q.length + this.#inFlight >= this.maxQueueRecords ||
      q.bytes + this.#inFlightBytes + length > this.maxQueueBytes
    ) {
      if (this.overflow === "drop-newest") {
        this.dropped(1, "queue full");
        return false;
      }
      let made = 0;
      while (
        q.length > 0 &&
        (q.length + this.#inFlight >= this.maxQueueRecords ||
          q.bytes + this.#inFlightBytes + length > this.maxQueueBytes)
      ) {
        q.shift();
        made++;
      }
      this.#done += made;
      if (q.length + this.#inFlight >= this.maxQueueRecords) {
        // only the batch in flight is left: nothing to make room with
        this.dropped(made + 1, "queue full");
        return false;
      }
      this.dropped(made, "queue full");
    }
    q.push(buf, offset, length);
    this.#enqueued++;
    if (this.#loop === null) this.#loop = this.#run();
    else this.wake();
    if (this.pollHook !== null) this.pollHook();
    return true;
  }

  /**
   * Counts `n` records dropped after they were accepted, and owes the
   * receiver a notice of them (when `dropNotices` is on).
   *
   * @param n How many.
   * @param reason Why, in a few words ("queue full").
   */
  protected dropped(n: number, reason: string): void {
    if (n <= 0) return;
    this.#dropped += n;
    if (!this.dropNotices || this.#closed) return;
    this.#owed += n;
    if (!this.#owedReasons.includes(reason)) this.#owedReasons.push(reason);
    if (this.#loop === null) this.#loop = this.#run();
    else this.wake();
  }

  /**
   * Called with each record queued while set: lets a transport that waits
   * for room (the I/O worker's ring) see it between the caller's turns.
   */
  protected pollHook: (() => void) | null = null;

  /**
   * `n` records counted as sent were lost by the transport before they left
   * (the I/O worker's ring when its connection is lost): counted as
   * dropped instead, and announced.
   *
   * @param n How many.
   * @param reason Why, in a few words.
   */
  protected unsent(n: number, reason: string): void {
    if (n <= 0) return;
    this.#sent -= n;
    if (this.#closed) this.#dropped += n;
    else this.dropped(n, reason);
  }

  /**
   * Frames the transport took but could not write (a lost connection of
   * the I/O worker), to be written again first; null when none.
   */
  protected recoverTransport(): { data: Uint8Array; lengths: number[] } | null {
    return null;
  }

  /** Puts what the transport could not write back at the front of the queue. */
  #recover(): void {
    const r = this.recoverTransport();
    if (r === null || r.lengths.length === 0) return;
    const n = r.lengths.length;
    this.#queue.unshift(r.data, r.lengths);
    this.#sent -= n;
    this.#done -= n;
  }

  /** Whether the transport still holds bytes it has to write (flush and close wait for them). */
  protected transportPending(): boolean {
    return false;
  }

  /** A number that grows while the transport writes (exit waits while it grows). */
  protected transportProgress(): number {
    return 0;
  }

  /** The transport made progress: flush waiters and the send loop look again. */
  protected progressed(): void {
    this.#settle(false);
    this.wake();
  }

  /** Runs the send loop (again, if it ended): the transport has frames to give back. */
  protected kick(): void {
    if (this.#closed) return;
    if (this.#loop === null) this.#loop = this.#run();
    else this.wake();
  }

  /**
   * Drops every queued record (not the batch being written): counted, and
   * announced by a drop notice unless `reason` is null.
   *
   * @param reason Why, in a few words; null when no notice can reach the receiver.
   */
  protected dropQueued(reason: string | null): void {
    const n = this.#queue.clear();
    this.#done += n;
    if (reason === null) this.#dropped += n;
    else this.dropped(n, reason);
    this.#settle(false);
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
   * Why `shouldDrop()` drops records, in a few words (for the drop notice),
   * or null when no notice can ever reach the receiver.
   */
  protected dropReason(): string | null {
    return "receiver down";
  }

  /**
   * Reports an error, as CPython's `Handler.handleError`: to `onError` when
   * given, else to stderr as a `--- Logging error ---` block. The first
   * error of each kind (permission, lookup, refused, encoding, ...) is
   * written at once; more of the same kind within 5 s are counted and
   * summed up in the next report of that kind. A report shows at most
   * `MAX_QUOTED_CHARS` (300) characters of the record's message and 2,000
   * of the error's text. Never logs through the handler itself.
   *
   * @param record The record being handled, if any.
   * @param error The error.
   */
  handleError(record: LogRecordDict | undefined, error: unknown): void {
    if (this.#reporting) return;
    this.#reporting = true;
    try {
      const kind = errorKind(error);
      if (this.#onError !== undefined) {
        try {
          this.#onError(error, record);
        } catch {
          // An error handler that fails has nowhere left to report to.
        }
        return;
      }
      this.#reporter.report(kind, () => {
        let text = "--- Logging error ---\n" + errorReport(error);
        if (record !== undefined) {
          let msg: string;
          try {
            msg = getMessage(record);
          } catch {
            msg = safeString(record.msg); // String() threw: no report at all
          }
          text += `\nLogged from ${this.constructor.name}: name=${
            clip(String(record.name))
          }, msg=${JSON.stringify(clip(msg))}`;
        }
        return text;
      });
    } catch {
      // Reporting must never throw into the caller.
    } finally {
      this.#reporting = false;
    }
  }

  /**
   * Waits until every record queued before the call was written (or
   * dropped and counted).
   *
   * Without options it waits as long as that takes, and resolves (to
   * `undefined`) also when the handler closes: while the receiver is down,
   * that may be never. With a `timeout` or a `signal` it resolves `true`
   * when every record queued before the call left the queue, and `false`
   * when it gave up first (or the handler closed with records left).
   * While it waits, the program stays alive (an idle handler never holds
   * it): bound the wait with `timeout` where the receiver may be down.
   *
   * @example Bounded by a timeout
   * ```ts
   * import { SocketHandler } from "@pysocklog/pysocklog";
   * import { equal } from "node:assert/strict";
   *
   * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const { port } = listener.addr as Deno.NetAddr;
   * listener.close(); // nobody listens
   * const h = new SocketHandler("127.0.0.1", port, {
   *   closeTimeout: 0,
   *   onError: () => {}, // the drop at close would be reported
   * });
   * h.handle({ msg: "lost" });
   * equal(await h.flush({ timeout: 50 }), false);
   * await h.close();
   * equal(h.stats.dropped, 1);
   * ```
   *
   * @returns A promise that never rejects.
   */
  flush(): Promise<void>;
  /**
   * Waits until every record queued before the call left the queue, at
   * most `timeout` ms and until `signal` aborts.
   *
   * @param options A timeout in ms, and an abort signal.
   * @returns `true` when they all left the queue, `false` when it gave up.
   */
  flush(options: FlushOptions): Promise<boolean>;
  flush(options?: FlushOptions): Promise<boolean | void> {
    const done = this.#wait(false, options?.timeout, options?.signal);
    return options === undefined ? done.then(() => {}) : done;
  }

  /**
   * Keeps the program alive while a flush() or close() waits: the handler's
   * I/O is unref'd (an unclosed handler must not hold a program), so an
   * awaited flush() whose frames the I/O worker was writing could end the
   * event loop first ("Promise resolution is still pending").
   */
  #hold(): void {
    if (this.#holds++ === 0) {
      this.#keepAlive = setInterval(() => {}, KEEP_ALIVE_MS); // a ref'd timer
    }
  }

  /** Ends a {@linkcode Handler.#hold}. */
  #release(): void {
    if (--this.#holds === 0) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }

  /** Waits until the frames queued so far (and, with `notice`, any notice owed) are written. */
  #wait(
    notice: boolean,
    timeout?: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const target = this.#enqueued;
    if (this.#reached(target, notice)) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      this.#hold();
      const waiter: FlushWaiter = {
        target,
        notice,
        resolve: (done) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener("abort", giveUp);
          this.#release();
          resolve(done);
        },
      };
      const giveUp = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        waiter.resolve(false);
      };
      // Past a timer's range (Infinity), setTimeout would fire at once.
      if (timeout !== undefined && !(timeout > MAX_TIMER_MS)) {
        timer = setTimeout(giveUp, timeout);
      }
      signal?.addEventListener("abort", giveUp, { once: true });
      this.#waiters.push(waiter);
      if (this.#loop === null) this.#loop = this.#run();
      else this.wake();
    });
  }

  #reached(target: number, notice: boolean): boolean {
    return this.#done >= target && (!notice || this.#owed === 0) &&
      !this.transportPending();
  }

  /**
   * Flushes (waiting at most `closeTimeout` ms, while the retry timer keeps
   * reconnecting), writes any drop notice owed, then closes the transport.
   * Records still queued after that are dropped, counted and reported.
   * Idempotent.
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
    if (!this.#reached(this.#enqueued, true) && !this.#abandoned) {
      await this.#wait(true, this.closeTimeout);
    }
    this.#closed = true;
    globalThis.removeEventListener?.("beforeunload", this.#onBeforeUnload);
    globalThis.removeEventListener?.("unload", this.#onUnload);
    clearTimeout(this.#exitTimer);
    // Flushes still waiting will not see their records written.
    this.#settle(true);
    const before = this.#dropped - this.#lateDrops;
    const queued = this.#queue.clear();
    this.#dropped += queued;
    this.#done += queued;
    this.closeTransport();
    this.wake();
    if (this.#loop !== null) await this.#loop; // counts the batch in flight
    // Records logged meanwhile were reported one by one.
    const left = this.#dropped - this.#lateDrops - before;
    if (left > 0 && !this.#abandoned) {
      this.handleError(
        undefined,
        dropReport(
          `${left} log records were dropped (close timeout: ${this.closeTimeout} ms)`,
        ),
      );
    }
    this.#tellUntold();
    // Errors rate-limited away since their kind's last report: a program
    // that fails 3 records of a kind and ends saw 1 report.
    this.#reporter.tellSuppressed("--- Logging error ---");
    this.#settle(true);
  }

  /**
   * Reports the drops whose notice never reached the receiver (it was down
   * until the end): counted in `stats.dropped`, they were told to no one.
   */
  #tellUntold(): void {
    const n = this.#owed;
    if (n === 0) return;
    const reason = this.#owedReasons.join(", ");
    this.#owed = 0;
    this.#owedReasons = [];
    // A kind of its own: not rate-limited behind the close or exit report.
    this.handleError(
      undefined,
      dropReport(
        `${n} log records were dropped (${reason}); the receiver was not told`,
        "UntoldDrops",
      ),
    );
  }

  /**
   * The program is exiting: counts what is left as dropped, reports it,
   * and stops.
   */
  #abandon(reason: string): void {
    if (this.#closed || this.#abandoned) return;
    const left = this.#queue.clear() + this.#inFlight;
    this.#inFlight = 0;
    this.#inFlightBytes = 0;
    this.#abandoned = true;
    this.#closing = true;
    this.#closed = true;
    this.#settle(true); // flushes still waiting: their records are lost
    this.#dropped += left;
    this.#done += left;
    globalThis.removeEventListener?.("beforeunload", this.#onBeforeUnload);
    globalThis.removeEventListener?.("unload", this.#onUnload);
    clearTimeout(this.#exitTimer);
    if (left > 0) {
      this.handleError(
        undefined,
        dropReport(`${left} log records were dropped (${reason})`),
      );
    }
    this.#tellUntold();
    // Errors rate-limited away since their kind's last report: a program
    // that fails 3 records of a kind and ends saw 1 report.
    this.#reporter.tellSuppressed("--- Logging error ---");
    try {
      this.closeTransport();
    } catch {
      // exiting anyway
    }
    this.#settle(true);
  }

  /**
   * The program has nothing left to do. While records are queued and make
   * progress, keep it alive; once they have made none for `exitTimeout`
   * ms, count them as dropped and let it end.
   */
  #beforeUnload(event: Event): void {
    if (this.#closed) return;
    const pending = this.#queue.length + this.#inFlight;
    if (pending === 0 && !this.transportPending()) return;
    const now = Date.now();
    const progress = this.#done + this.transportProgress();
    if (progress !== this.#exitProgress) {
      this.#exitProgress = progress;
      this.#exitDeadline = now + this.exitTimeout;
    }
    if (now >= this.#exitDeadline!) {
      this.#abandon(`exit: no progress for ${this.exitTimeout} ms`);
      return;
    }
    event.preventDefault();
    clearTimeout(this.#exitTimer);
    const wait = Math.max(1, Math.min(EXIT_POLL_MS, this.#exitDeadline! - now));
    this.#exitTimer = setTimeout(() => this.wake(), wait); // a ref'd timer
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
      notices: this.#notices,
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
   * Starts opening the transport now, before any record: the first burst
   * then finds it open instead of waiting for the connection.
   */
  protected openEagerly(): void {
    this.#openWanted = true;
    if (this.#loop === null) this.#loop = this.#run();
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

  /** Whether the loop has something to write: frames, or a notice owed. */
  #hasWork(): boolean {
    return this.#queue.length > 0 || this.#owed > 0;
  }

  async #run(): Promise<void> {
    const batch = newBatch();
    const one = newBatch();
    // Never open the transport inside the caller's handle(): making the I/O
    // worker takes 60-140 ms of this thread.
    await Promise.resolve();
    while (!this.#closed) {
      this.#recover();
      if (!this.#hasWork() && !this.#openWanted) {
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
      this.#openWanted = false; // one eager attempt; records bring the next
      if (!open || !this.#hasWork()) {
        this.#settle(false);
        if (open && this.#closing) break;
        await this.#idle();
        continue;
      }
      if (this.#owed > 0) {
        await this.#writeNotice(one);
        continue;
      }
      const size = this.#queue.take(this.maxBatchBytes, batch);
      const count = batch.lengths.length;
      this.#inFlight = count;
      this.#inFlightBytes = size;
      let sent = count;
      let drop = false;
      let failure: unknown = null;
      try {
        await this.transmit(batch);
      } catch (error) {
        sent = error instanceof TransmitError ? error.sent : 0;
        drop = error instanceof TransmitError && error.drop;
        failure = error;
      }
      if (this.#abandoned) break; // counted already
      this.#inFlight = 0;
      this.#inFlightBytes = 0;
      this.#sent += sent;
      this.#done += sent;
      if (sent < count) {
        if (this.#closed) {
          this.#dropped += count - sent;
          this.#done += count - sent;
        } else if (drop) {
          this.#done += count - sent;
          this.dropped(count - sent, "send failed");
        } else {
          this.#queue.putBack(batch, sent);
          this.#recover(); // older than the batch: in front of it
        }
        if (sent === 0 && failure !== null) {
          // No progress: let timers and I/O run before the next attempt,
          // so that no failing transport can spin the event loop.
          await new Promise((r) => setTimeout(r, 0));
        }
      }
      this.#queue.release();
      batch.data = EMPTY_BYTES;
      this.#settle(false);
    }
    // Waiters still waiting for the transport (the I/O worker) stay, unless closed.
    this.#settle(this.#closed);
    this.#loop = null;
  }

  /** Writes the drop notice owed, as one frame before the next. */
  async #writeNotice(batch: FrameBatch): Promise<void> {
    const n = this.#owed;
    const reason = this.#owedReasons.join(", ");
    this.#owed = 0;
    this.#owedReasons = [];
    let frame: Uint8Array;
    try {
      frame = this.makePickle({
        name: NOTICE_NAME,
        levelno: NOTICE_LEVEL,
        levelname: "WARNING",
        msg: `${n} log records were dropped (${reason})`,
        dropped: n,
        reason,
      });
    } catch (error) {
      this.handleError(undefined, error);
      return;
    }
    batch.data = frame;
    batch.lengths.length = 0;
    batch.lengths.push(frame.length);
    let sent = 1;
    try {
      await this.transmit(batch);
    } catch (error) {
      sent = error instanceof TransmitError ? error.sent : 0;
    }
    if (sent === 1) {
      this.#notices++;
    } else if (!this.#closed) {
      // Not written: merge it into the next one.
      this.#owed += n;
      for (const r of reason.split(", ")) {
        if (!this.#owedReasons.includes(r)) this.#owedReasons.push(r);
      }
      // A datagram to a closed port fails every other send: no tight retry.
      await new Promise((r) => setTimeout(r, NOTICE_RETRY_MS));
    }
    batch.data = EMPTY_BYTES;
    this.#settle(false);
  }

  /** Waits until `wake()` is called. */
  #idle(): Promise<void> {
    return new Promise((resolve) => {
      this.#wakeUp = resolve;
    });
  }

  #settle(all: boolean): void {
    if (this.#waiters.length === 0) return;
    const keep: FlushWaiter[] = [];
    for (const w of this.#waiters) {
      if (this.#reached(w.target, w.notice)) w.resolve(true);
      else if (all) w.resolve(false);
      else keep.push(w);
    }
    this.#waiters = keep;
  }
}
