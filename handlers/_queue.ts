// Copyright the pysocklog authors. MIT license.
// The bounded queue of frames a handler has yet to send.

/**
 * A FIFO of frames bounded in records and bytes. Frames are views (see
 * pickle/_writer.ts); consecutive views of one slab are sent as one write.
 */
export class FrameQueue {
  #items: Uint8Array[] = [];
  #head = 0;
  /** Bytes of the frames in the queue. */
  bytes = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(frame: Uint8Array): void {
    this.#items.push(frame);
    this.bytes += frame.length;
  }

  /** Puts frames back at the front, in order (frames a failed write did not send). */
  unshift(frames: Uint8Array[]): void {
    if (frames.length === 0) return;
    this.#compact();
    this.#items.unshift(...frames);
    for (const f of frames) this.bytes += f.length;
  }

  /** Removes and returns the oldest frame. */
  shift(): Uint8Array | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const f = this.#items[this.#head];
    this.#items[this.#head++] = EMPTY;
    this.bytes -= f.length;
    if (this.#head > COMPACT_AT && this.#head * 2 > this.#items.length) {
      this.#compact();
    }
    return f;
  }

  /** Removes and returns the oldest frames, up to `maxBytes` (at least one frame). */
  take(maxBytes: number, out: Uint8Array[]): number {
    let size = 0;
    while (this.#head < this.#items.length) {
      const f = this.#items[this.#head];
      if (out.length > 0 && size + f.length > maxBytes) break;
      this.#items[this.#head++] = EMPTY;
      out.push(f);
      size += f.length;
    }
    this.bytes -= size;
    if (this.#head > COMPACT_AT && this.#head * 2 > this.#items.length) {
      this.#compact();
    }
    return size;
  }

  /** Empties the queue; returns how many frames it held. */
  clear(): number {
    const n = this.length;
    this.#items = [];
    this.#head = 0;
    this.bytes = 0;
    return n;
  }

  #compact(): void {
    this.#items = this.#items.slice(this.#head);
    this.#head = 0;
  }
}

const EMPTY = new Uint8Array(0);
/** Compact the backing array once this many slots at its front are spent. */
const COMPACT_AT = 1024;

/**
 * Joins frames into one buffer to write: a single view when they are
 * consecutive in one slab (the usual case), else a copy into `scratch`
 * (grown when too small).
 */
export function joinFrames(
  frames: readonly Uint8Array[],
  size: number,
  scratch: { buf: Uint8Array },
): Uint8Array {
  const first = frames[0];
  let contiguous = true;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < frames.length; i++) {
    const f = frames[i];
    if (f.buffer !== first.buffer || f.byteOffset !== end) {
      contiguous = false;
      break;
    }
    end += f.length;
  }
  if (contiguous) return new Uint8Array(first.buffer, first.byteOffset, size);
  if (scratch.buf.length < size) scratch.buf = new Uint8Array(size);
  let pos = 0;
  for (const f of frames) {
    scratch.buf.set(f, pos);
    pos += f.length;
  }
  return scratch.buf.subarray(0, size);
}
