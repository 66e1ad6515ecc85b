// Copyright the pysocklog authors. MIT license.
// The frame splitter of one stream connection: a buffer that grows only as
// bytes arrive (never to a length a header merely declares), is charged to
// a budget shared by all connections, and shrinks back after a large frame.

import { FRAME_HEADER } from "../record/frame.ts";

/** Bytes a connection reads at a time, and the size of its buffer at rest. */
export const READ_CHUNK = 64 * 1024;

/** A read into less room than this moves the unparsed tail to the front first. */
const MIN_READ = READ_CHUNK / 4;

/** Bytes held in connection buffers, shared by all connections of a receiver. */
export interface Budget {
  /** Bytes held now beyond the resting buffers. */
  used: number;
  /** Bytes that may be held beyond each connection's resting buffer. */
  readonly max: number;
}

/** Why a stream's remaining bytes cannot be trusted or kept. */
export class FrameRefused extends RangeError {
  /** `"tooLarge"`: a length over the limit; `"overBudget"`: no room left in the shared budget. */
  readonly reason: "tooLarge" | "overBudget";

  /**
   * @param reason What was refused.
   * @param message The text.
   */
  constructor(reason: "tooLarge" | "overBudget", message: string) {
    super(message);
    this.name = "FrameRefused";
    this.reason = reason;
  }
}

/**
 * Splits one connection's byte stream into frame bodies. Call
 * {@linkcode FrameSplitter.room} for the bytes to read into, then
 * {@linkcode FrameSplitter.add} with the count read, then take each body
 * with {@linkcode FrameSplitter.next} until it returns null.
 */
export class FrameSplitter {
  #buf: Uint8Array;
  #start = 0; // first unparsed byte
  #end = 0; // end of the bytes read
  readonly #maxFrame: number;
  readonly #budget: Budget;
  /** Bytes of this buffer beyond READ_CHUNK, charged to the budget. */
  #charged = 0;

  /**
   * @param maxFrame Largest frame body accepted.
   * @param budget The shared budget its growth is charged to.
   */
  constructor(maxFrame: number, budget: Budget) {
    this.#maxFrame = maxFrame;
    this.#budget = budget;
    this.#buf = new Uint8Array(READ_CHUNK);
  }

  /** Bytes of an incomplete frame held (0 between frames). */
  get partial(): number {
    return this.#end - this.#start;
  }

  /** Bytes this connection's buffer holds. */
  get size(): number {
    return this.#buf.length;
  }

  /**
   * The free bytes to read into, at most {@linkcode READ_CHUNK}: one read
   * is one connection's share of a turn. Grows the buffer (at most
   * doubling, never past what the frame in progress needs) only when it is
   * full of that frame.
   *
   * @throws {FrameRefused} when growing would pass the shared budget.
   */
  room(): Uint8Array {
    let buf = this.#buf;
    if (buf.length - this.#end < MIN_READ && this.#start > 0) {
      buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === buf.length) {
      // Full of one frame's start (whole frames were taken): grow towards it.
      const need = FRAME_HEADER + this.#declared();
      const size = Math.min(need, buf.length * 2);
      const grow = size - buf.length;
      const budget = this.#budget;
      if (budget.used + grow > budget.max) {
        throw new FrameRefused(
          "overBudget",
          `A frame of ${
            need - FRAME_HEADER
          } bytes would pass maxBufferedBytes (${budget.max}): ${budget.used} bytes are held`,
        );
      }
      const bigger = new Uint8Array(size);
      bigger.set(buf.subarray(0, this.#end));
      budget.used += grow;
      this.#charged += grow;
      this.#buf = buf = bigger;
    }
    const end = Math.min(buf.length, this.#end + READ_CHUNK);
    return buf.subarray(this.#end, end);
  }

  /**
   * Counts `n` bytes read into the last {@linkcode FrameSplitter.room}.
   *
   * @param n Bytes read.
   */
  add(n: number): void {
    this.#end += n;
  }

  /**
   * The next whole frame's body (a view, valid until the next `room()`),
   * or null when none is whole yet.
   *
   * @throws {FrameRefused} for a length over the limit: the stream is out of step.
   */
  next(): Uint8Array | null {
    const avail = this.#end - this.#start;
    if (avail < FRAME_HEADER) {
      if (avail === 0) this.#rest();
      return null;
    }
    const len = this.#declared();
    if (avail - FRAME_HEADER < len) return null;
    const from = this.#start + FRAME_HEADER;
    this.#start = from + len;
    const body = this.#buf.subarray(from, from + len);
    if (this.#charged > 0 && this.#end - this.#start <= MIN_READ) {
      // A large frame is done: back to the resting size now (the body stays
      // valid in the old buffer until it is decoded).
      this.#rest();
    }
    return body;
  }

  /** Gives everything back to the budget (the connection is gone). */
  release(): void {
    this.#budget.used -= this.#charged;
    this.#charged = 0;
    this.#buf = new Uint8Array(0);
    this.#start = this.#end = 0;
  }

  /** The length the frame at #start declares; refuses one over the limit. */
  #declared(): number {
    const b = this.#buf;
    const s = this.#start;
    const len =
      ((b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3]) >>>
      0;
    if (len > this.#maxFrame) {
      throw new FrameRefused(
        "tooLarge",
        `Frame of ${len} bytes exceeds maxFrameBytes (${this.#maxFrame}); the stream is out of step`,
      );
    }
    return len;
  }

  /** Back to a buffer of resting size holding only the unparsed tail. */
  #rest(): void {
    const tail = this.#end - this.#start;
    if (this.#charged > 0) {
      const buf = new Uint8Array(READ_CHUNK);
      buf.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = buf;
      this.#budget.used -= this.#charged;
      this.#charged = 0;
    } else if (tail > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    }
    this.#start = 0;
    this.#end = tail;
  }
}
