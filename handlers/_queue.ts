// Copyright the pysocklog authors. MIT license.
// The bounded queue of frames a handler has yet to send.
import { releaseFrames } from "../record.ts";

/**
 * Frames taken from the queue to be written together: their bytes as one
 * buffer, and each frame's length (a write that stops part way sent the
 * frames wholly before the point it reached). What `transmit` gets.
 *
 * @example Count the whole frames in the first `written` bytes
 * ```ts
 * import type { FrameBatch } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * function wholeFrames(batch: FrameBatch, written: number): number {
 *   let whole = 0;
 *   for (let acc = 0; whole < batch.lengths.length; whole++) {
 *     acc += batch.lengths[whole];
 *     if (acc > written) break;
 *   }
 *   return whole;
 * }
 *
 * const batch: FrameBatch = { data: new Uint8Array(30), lengths: [10, 8, 12] };
 * equal(wholeFrames(batch, 17), 1); // the second frame was cut
 * equal(wholeFrames(batch, 18), 2);
 * equal(wholeFrames(batch, 30), 3);
 * ```
 */
export interface FrameBatch {
  /**
   * The frames' bytes, in order: one view of a slab, or a copy. Valid until
   * `transmit` returns: the slab is then reused.
   */
  data: Uint8Array;
  /** Each frame's length, in order (as many as there are frames). */
  lengths: number[];
}

/** An empty batch, for {@linkcode FrameQueue.take} to fill. */
export function newBatch(): FrameBatch {
  return { data: new Uint8Array(0), lengths: [] };
}

/**
 * A FIFO of frames bounded by its owner in records and bytes. A frame is a
 * range of a buffer (the encoder's slab, or a frame given whole); no object
 * is made per frame, and frames that lie end to end in one slab are taken
 * as one view of it.
 *
 * The frames' places are kept in three arrays used as a ring, grown by
 * doubling and kept: arrays that are cut back and pushed again get new
 * backing stores, which a scavenge finds alive (~18 KB each, with a few
 * hundred frames queued); those survivors add up until V8 doubles its
 * young generation (+38 MB RSS at ~9M records).
 */
export class FrameQueue {
  #bufs: Uint8Array[] = [];
  #offs: number[] = [];
  #lens: number[] = [];
  /** Capacity (a power of 2) less one. */
  #mask = 0;
  /** Index of the oldest frame. */
  #head = 0;
  #count = 0;
  /** Bytes of the frames in the queue. */
  bytes = 0;
  /**
   * Where the frames of the last batch came from, to put back what was not
   * sent: the first frame's buffer and offset when they lay end to end in
   * it, else each frame's (the first #takenCount of #takenBufs/#takenOffs).
   */
  #contiguous = true;
  #first: Uint8Array = EMPTY;
  #firstOff = 0;
  #takenBufs: Uint8Array[] = [];
  #takenOffs: number[] = [];
  #takenCount = 0;
  /** Frames of the last batch put back (from this one on). */
  #putBackFrom = 0;
  #scratch = new Uint8Array(0);

  constructor() {
    this.#resize(MIN_CAPACITY);
  }

  get length(): number {
    return this.#count;
  }

  /** Adds the frame `buf[offset, offset + length)`. */
  push(buf: Uint8Array, offset: number, length: number): void {
    if (this.#count > this.#mask) this.#resize((this.#mask + 1) * 2);
    this.#put((this.#head + this.#count) & this.#mask, buf, offset, length);
  }

  /** Adds a frame at the front. */
  #pushFront(buf: Uint8Array, offset: number, length: number): void {
    if (this.#count > this.#mask) this.#resize((this.#mask + 1) * 2);
    this.#put(this.#head = (this.#head - 1) & this.#mask, buf, offset, length);
  }

  /** Fills ring slot `i`, which push or #pushFront made the new end. */
  #put(i: number, buf: Uint8Array, offset: number, length: number): void {
    this.#bufs[i] = buf;
    this.#offs[i] = offset;
    this.#lens[i] = length;
    this.#count++;
    this.bytes += length;
  }

  /** Removes the oldest frame; returns its length, or -1 when empty. */
  shift(): number {
    if (this.#count === 0) return -1;
    const i = this.#head;
    const n = this.#lens[i];
    releaseFrames(this.#bufs[i], 1);
    this.#bufs[i] = EMPTY;
    this.#head = (i + 1) & this.#mask;
    this.#count--;
    this.bytes -= n;
    return n;
  }

  /**
   * Removes the oldest frames, up to `maxBytes` (at least one frame), into
   * `batch`. Returns their bytes.
   */
  take(maxBytes: number, batch: FrameBatch): number {
    const bufs = this.#bufs;
    const offs = this.#offs;
    const lens = this.#lens;
    const mask = this.#mask;
    const head = this.#head;
    const count = this.#count;
    const lengths = batch.lengths;
    lengths.length = 0;
    this.#takenCount = 0;
    let size = 0;
    let k = 0;
    const first = count > 0 ? bufs[head] : EMPTY;
    const firstOff = count > 0 ? offs[head] : 0;
    let end = firstOff;
    // Frames end to end in one buffer (the usual case) need only lengths.
    for (; k < count; k++) {
      const i = (head + k) & mask;
      const n = lens[i];
      if (k > 0 && size + n > maxBytes) break;
      if (bufs[i] !== first || offs[i] !== end) break;
      end += n;
      lengths.push(n);
      bufs[i] = EMPTY;
      size += n;
    }
    this.#contiguous = true;
    if (k < count && k > 0 && size + lens[(head + k) & mask] <= maxBytes) {
      // A frame elsewhere: the batch becomes a copy of frames from anywhere.
      this.#contiguous = false;
      for (let j = 0, off = firstOff; j < k; off += lengths[j++]) {
        this.#taken(first, off);
      }
      for (; k < count; k++) {
        const i = (head + k) & mask;
        const n = lens[i];
        if (size + n > maxBytes) break;
        this.#taken(bufs[i], offs[i]);
        lengths.push(n);
        bufs[i] = EMPTY;
        size += n;
      }
    }
    this.#putBackFrom = k;
    this.#head = (head + k) & mask;
    this.#count = count - k;
    this.bytes -= size;
    this.#first = first;
    this.#firstOff = firstOff;
    if (this.#contiguous) {
      batch.data = first.subarray(firstOff, firstOff + size);
    } else {
      if (this.#scratch.length < size) this.#scratch = new Uint8Array(size);
      let pos = 0;
      for (let j = 0; j < lengths.length; j++) {
        const off = this.#takenOffs[j];
        this.#scratch.set(
          this.#takenBufs[j].subarray(off, off + lengths[j]),
          pos,
        );
        pos += lengths[j];
      }
      batch.data = this.#scratch.subarray(0, size);
    }
    return size;
  }

  /** Notes where a frame of a copied batch came from (arrays kept, not cut back). */
  #taken(buf: Uint8Array, off: number): void {
    const j = this.#takenCount++;
    if (j < this.#takenBufs.length) {
      this.#takenBufs[j] = buf;
      this.#takenOffs[j] = off;
    } else {
      this.#takenBufs.push(buf);
      this.#takenOffs.push(off);
    }
  }

  /** Puts the frames of the last batch from `from` on back at the front, in order. */
  putBack(batch: FrameBatch, from: number): void {
    const count = batch.lengths.length;
    if (from >= count) return;
    this.#putBackFrom = from;
    const lens = batch.lengths;
    if (this.#contiguous) {
      let off = this.#firstOff;
      for (let i = 0; i < count; i++) off += lens[i];
      for (let i = count - 1; i >= from; i--) {
        off -= lens[i];
        this.#pushFront(this.#first, off, lens[i]);
      }
    } else {
      for (let i = count - 1; i >= from; i--) {
        this.#pushFront(this.#takenBufs[i], this.#takenOffs[i], lens[i]);
      }
    }
  }

  /**
   * Puts frames lying end to end in `buf` back at the front, in order
   * (frames a lost connection had not written).
   */
  unshift(buf: Uint8Array, lengths: number[]): void {
    let off = 0;
    for (const n of lengths) off += n;
    for (let i = lengths.length - 1; i >= 0; i--) {
      off -= lengths[i];
      this.#pushFront(buf, off, lengths[i]);
    }
  }

  /**
   * Done with the last batch: its frames not put back were written (or
   * dropped), so their slabs may be reused; forgets its buffers.
   */
  release(): void {
    const sent = this.#putBackFrom;
    this.#putBackFrom = 0;
    if (this.#contiguous) {
      if (sent > 0) releaseFrames(this.#first, sent);
    } else {
      this.#releaseRuns(this.#takenBufs, 0, sent);
    }
    this.#takenBufs.fill(EMPTY, 0, this.#takenCount);
    this.#takenCount = 0;
    this.#first = EMPTY;
    if (this.#count === 0 && this.#mask >= SHRINK_ABOVE) {
      this.#resize(MIN_CAPACITY); // a burst's arrays are not kept for good
    }
  }

  /** Empties the queue; returns how many frames it held. */
  clear(): number {
    const n = this.#count;
    let run: Uint8Array = EMPTY;
    let runLength = 0;
    for (let k = 0; k < n; k++) {
      const i = (this.#head + k) & this.#mask;
      if (this.#bufs[i] !== run) {
        if (runLength > 0) releaseFrames(run, runLength);
        run = this.#bufs[i];
        runLength = 0;
      }
      runLength++;
      this.#bufs[i] = EMPTY;
    }
    if (runLength > 0) releaseFrames(run, runLength);
    this.#head = 0;
    this.#count = 0;
    this.bytes = 0;
    if (this.#mask >= SHRINK_ABOVE) this.#resize(MIN_CAPACITY);
    return n;
  }

  /** Releases `bufs[from, to)`'s frames, one call per run of one buffer. */
  #releaseRuns(bufs: Uint8Array[], from: number, to: number): void {
    for (let i = from; i < to;) {
      const buf = bufs[i];
      let j = i + 1;
      while (j < to && bufs[j] === buf) j++;
      releaseFrames(buf, j - i);
      i = j;
    }
  }

  /** New arrays of `capacity` slots (a power of 2, at least #count), frames in order from 0. */
  #resize(capacity: number): void {
    const bufs = new Array<Uint8Array>(capacity).fill(EMPTY);
    const offs = new Array<number>(capacity).fill(0);
    const lens = new Array<number>(capacity).fill(0);
    for (let k = 0; k < this.#count; k++) {
      const i = (this.#head + k) & this.#mask;
      bufs[k] = this.#bufs[i];
      offs[k] = this.#offs[i];
      lens[k] = this.#lens[i];
    }
    this.#bufs = bufs;
    this.#offs = offs;
    this.#lens = lens;
    this.#mask = capacity - 1;
    this.#head = 0;
  }
}

const EMPTY = new Uint8Array(0);
/** Slots the ring starts with (it doubles as needed). */
const MIN_CAPACITY = 1024;
/** A ring this large (in slots, less one) goes back to MIN_CAPACITY once empty. */
const SHRINK_ABOVE = 64 * 1024;
