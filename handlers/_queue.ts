// Copyright the pysocklog authors. MIT license.
// The bounded queue of frames a handler has yet to send.

/**
 * Frames taken from the queue to be written together: their bytes as one
 * buffer, and each frame's length (a write that stops part way sent the
 * frames wholly before the point it reached). What `transmit` gets.
 *
 * @example Count the whole frames in the first `written` bytes
 * ```ts
 * import type { FrameBatch } from "@pysocklog/pysocklog";
 *
 * function wholeFrames(batch: FrameBatch, written: number): number {
 *   let whole = 0;
 *   for (let acc = 0; whole < batch.lengths.length; whole++) {
 *     acc += batch.lengths[whole];
 *     if (acc > written) break;
 *   }
 *   return whole;
 * }
 * ```
 */
export interface FrameBatch {
  /** The frames' bytes, in order: one view of a slab, or a copy. */
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
 */
export class FrameQueue {
  readonly #bufs: Uint8Array[] = [];
  readonly #offs: number[] = [];
  readonly #lens: number[] = [];
  #head = 0;
  /** Bytes of the frames in the queue. */
  bytes = 0;
  /**
   * Where the frames of the last batch came from, to put back what was not
   * sent: the first frame's buffer and offset when they lay end to end in
   * it, else each frame's.
   */
  #contiguous = true;
  #first: Uint8Array = EMPTY;
  #firstOff = 0;
  #takenBufs: Uint8Array[] = [];
  #takenOffs: number[] = [];
  #scratch = new Uint8Array(0);

  get length(): number {
    return this.#lens.length - this.#head;
  }

  /** Adds the frame `buf[offset, offset + length)`. */
  push(buf: Uint8Array, offset: number, length: number): void {
    this.#bufs.push(buf);
    this.#offs.push(offset);
    this.#lens.push(length);
    this.bytes += length;
  }

  /** Removes the oldest frame; returns its length, or -1 when empty. */
  shift(): number {
    if (this.#head >= this.#lens.length) return -1;
    const n = this.#lens[this.#head];
    this.#bufs[this.#head] = EMPTY;
    this.#head++;
    this.bytes -= n;
    this.#compactIfSpent();
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
    const lengths = batch.lengths;
    lengths.length = 0;
    this.#takenBufs.length = 0;
    this.#takenOffs.length = 0;
    let size = 0;
    let i = this.#head;
    const first = bufs[i];
    const firstOff = offs[i];
    let end = firstOff;
    // Frames end to end in one buffer (the usual case) need only lengths.
    for (; i < lens.length; i++) {
      const n = lens[i];
      if (lengths.length > 0 && size + n > maxBytes) break;
      if (bufs[i] !== first || offs[i] !== end) break;
      end += n;
      lengths.push(n);
      bufs[i] = EMPTY;
      size += n;
    }
    this.#contiguous = true;
    if (i < lens.length && lengths.length > 0 && size + lens[i] <= maxBytes) {
      // A frame elsewhere: the batch becomes a copy of frames from anywhere.
      this.#contiguous = false;
      for (let k = 0, off = firstOff; k < lengths.length; off += lengths[k++]) {
        this.#takenBufs.push(first);
        this.#takenOffs.push(off);
      }
      for (; i < lens.length; i++) {
        const n = lens[i];
        if (size + n > maxBytes) break;
        this.#takenBufs.push(bufs[i]);
        this.#takenOffs.push(offs[i]);
        lengths.push(n);
        bufs[i] = EMPTY;
        size += n;
      }
    }
    this.#head = i;
    this.bytes -= size;
    this.#first = first;
    this.#firstOff = firstOff;
    if (this.#contiguous) {
      batch.data = first.subarray(firstOff, firstOff + size);
    } else {
      if (this.#scratch.length < size) this.#scratch = new Uint8Array(size);
      let pos = 0;
      for (let k = 0; k < lengths.length; k++) {
        const off = this.#takenOffs[k];
        this.#scratch.set(
          this.#takenBufs[k].subarray(off, off + lengths[k]),
          pos,
        );
        pos += lengths[k];
      }
      batch.data = this.#scratch.subarray(0, size);
    }
    this.#compactIfSpent();
    return size;
  }

  /** Puts the frames of the last batch from `from` on back at the front, in order. */
  putBack(batch: FrameBatch, from: number): void {
    const count = batch.lengths.length;
    if (from >= count) return;
    this.#compact();
    const lens = batch.lengths.slice(from);
    let bufs: Uint8Array[];
    let offs: number[];
    if (this.#contiguous) {
      bufs = lens.map(() => this.#first);
      offs = [];
      let off = this.#firstOff;
      for (let i = 0; i < count; off += batch.lengths[i++]) {
        if (i >= from) offs.push(off);
      }
    } else {
      bufs = this.#takenBufs.slice(from, count);
      offs = this.#takenOffs.slice(from, count);
    }
    this.#bufs.unshift(...bufs);
    this.#offs.unshift(...offs);
    this.#lens.unshift(...lens);
    for (const n of lens) this.bytes += n;
  }

  /**
   * Puts frames lying end to end in `buf` back at the front, in order
   * (frames a lost connection had not written).
   */
  unshift(buf: Uint8Array, lengths: number[]): void {
    if (lengths.length === 0) return;
    this.#compact();
    const offs: number[] = [];
    let off = 0;
    for (const n of lengths) {
      offs.push(off);
      off += n;
      this.bytes += n;
    }
    this.#bufs.unshift(...lengths.map(() => buf));
    this.#offs.unshift(...offs);
    this.#lens.unshift(...lengths);
  }

  /** Forgets the buffers of the last batch (so that they can be freed). */
  release(): void {
    this.#takenBufs.length = 0;
    this.#takenOffs.length = 0;
    this.#first = EMPTY;
  }

  /** Empties the queue; returns how many frames it held. */
  clear(): number {
    const n = this.length;
    this.#bufs.length = 0;
    this.#offs.length = 0;
    this.#lens.length = 0;
    this.#head = 0;
    this.bytes = 0;
    return n;
  }

  #compactIfSpent(): void {
    if (this.#head > COMPACT_AT && this.#head * 2 > this.#lens.length) {
      this.#compact();
    }
  }

  /**
   * Moves the frames to the front of the arrays, in place: the arrays stay
   * the same objects (replacing them makes V8 drop the code it compiled
   * for this class).
   */
  #compact(): void {
    const head = this.#head;
    const bufs = this.#bufs;
    const offs = this.#offs;
    const lens = this.#lens;
    const n = lens.length - head;
    for (let i = 0; i < n; i++) {
      bufs[i] = bufs[head + i];
      offs[i] = offs[head + i];
      lens[i] = lens[head + i];
    }
    bufs.length = n;
    offs.length = n;
    lens.length = n;
    this.#head = 0;
  }
}

const EMPTY = new Uint8Array(0);
/** Compact the backing arrays once this many slots at their front are spent. */
const COMPACT_AT = 1024;
