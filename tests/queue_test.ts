// The handlers' frame queue: frames as ranges of slabs, batches, putting back.
import { deepEqual, equal } from "node:assert/strict";
import { type FrameBatch, FrameQueue, newBatch } from "../handlers/_queue.ts";

/** Frame `id`: `n` bytes of value `id`. */
function fill(slab: Uint8Array, at: number, id: number, n: number): number {
  slab.fill(id, at, at + n);
  return at + n;
}

function frames(batch: FrameBatch): number[][] {
  const out: number[][] = [];
  let pos = 0;
  for (let i = 0; i < batch.lengths.length; i++) {
    out.push([...batch.data.subarray(pos, pos + batch.lengths[i])]);
    pos += batch.lengths[i];
  }
  return out;
}

Deno.test("frames end to end in one slab are taken as one view; others are copied; order and bytes kept", () => {
  const q = new FrameQueue();
  const slab = new Uint8Array(64);
  let at = 0;
  for (let id = 1; id <= 3; id++) {
    const start = at;
    at = fill(slab, at, id, id + 1);
    q.push(slab, start, id + 1);
  }
  const alone = new Uint8Array([9, 9]);
  q.push(alone, 0, 2);
  equal(q.length, 4);
  equal(q.bytes, 2 + 3 + 4 + 2);

  const batch = newBatch();
  equal(q.take(9, batch), 9); // frames 1..3: 9 bytes, one view of the slab
  equal(batch.data.buffer, slab.buffer);
  deepEqual(frames(batch), [[1, 1], [2, 2, 2], [3, 3, 3, 3]]);
  q.release();

  // A batch across the slab and another buffer is a copy, bytes in order.
  const start = at;
  at = fill(slab, at, 4, 3);
  q.push(slab, start, 3);
  equal(q.take(1 << 20, batch), 5);
  equal(batch.data.buffer === slab.buffer, false);
  deepEqual(frames(batch), [[9, 9], [4, 4, 4]]);
  equal(q.length, 0);
  equal(q.bytes, 0);
  // Not sent past the first frame: the second goes back, bytes intact.
  q.putBack(batch, 1);
  q.release();
  equal(q.length, 1);
  equal(q.take(1 << 20, batch), 3);
  deepEqual(frames(batch), [[4, 4, 4]]);
  equal(batch.data.buffer, slab.buffer);
});

Deno.test("a batch takes at least one frame, stops before maxBytes, and puts back what was not sent", () => {
  const q = new FrameQueue();
  const slab = new Uint8Array(100);
  let at = 0;
  for (let id = 1; id <= 5; id++) {
    const start = at;
    at = fill(slab, at, id, 10);
    q.push(slab, start, 10);
  }
  const batch = newBatch();
  equal(q.take(5, batch), 10); // one frame, though larger than maxBytes
  equal(batch.lengths.length, 1);
  q.release();
  equal(q.take(35, batch), 30); // frames 2, 3, 4
  deepEqual(batch.lengths, [10, 10, 10]);
  // The write stopped in frame 3: frames 3 and 4 go back to the front.
  q.putBack(batch, 1);
  q.release();
  equal(q.length, 3);
  equal(q.bytes, 30);
  equal(q.take(1 << 20, batch), 30);
  deepEqual(frames(batch).map((f) => f[0]), [3, 4, 5]);
  equal(batch.data.buffer, slab.buffer); // still end to end: one view
});

Deno.test("shift drops the oldest; clear empties; compaction keeps order over many frames", () => {
  const q = new FrameQueue();
  const slab = new Uint8Array(5_000);
  for (let i = 0; i < 5_000; i++) {
    slab[i] = i % 251;
    q.push(slab, i, 1);
  }
  for (let i = 0; i < 3_000; i++) equal(q.shift(), 1);
  equal(q.length, 2_000);
  const batch = newBatch();
  equal(q.take(1_000, batch), 1_000);
  equal(batch.data[0], 3_000 % 251);
  equal(batch.data[999], 3_999 % 251);
  q.release();
  equal(q.clear(), 1_000);
  equal(q.shift(), -1);
  equal(q.bytes, 0);
});

Deno.test("unshift puts frames lying end to end back at the front, in order, before a batch put back", () => {
  const q = new FrameQueue();
  const slab = new Uint8Array(16);
  let at = 0;
  for (let id = 5; id <= 7; id++) {
    const start = at;
    at = fill(slab, at, id, 2);
    q.push(slab, start, 2);
  }
  const batch = newBatch();
  q.take(2, batch); // frame 5
  q.putBack(batch, 0);
  q.release();
  // Frames 3 and 4, older than all of these (a lost connection's ring).
  q.unshift(new Uint8Array([3, 3, 3, 4]), [3, 1]);
  equal(q.length, 5);
  equal(q.bytes, 10);
  const all = newBatch();
  equal(q.take(100, all), 10);
  deepEqual(frames(all), [[3, 3, 3], [4], [5, 5], [6, 6], [7, 7]]);
});

Deno.test("the ring wraps, grows and shrinks with frames kept in order (random operations against a plain array)", () => {
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const q = new FrameQueue();
  const model: number[] = []; // frame ids, oldest first
  const slabs: Uint8Array[] = [];
  let slab = new Uint8Array(256);
  let at = 0;
  let next = 0;
  const frameOf = (id: number): [Uint8Array, number] => {
    if (at + 2 > slab.length) {
      slabs.push(slab = new Uint8Array(256));
      at = 0;
    }
    slab[at] = id & 0xff;
    slab[at + 1] = id >> 8 & 0xff;
    at += 2;
    return [slab, at - 2];
  };
  const idOf = (f: number[]) => f[0] | f[1] << 8;
  const batch = newBatch();
  for (let step = 0; step < 30_000; step++) {
    if (step === 20_000) {
      for (let k = 0; k < 70_000; k++) { // past SHRINK_ABOVE: shrinks once drained
        const id = next++ & 0xffff;
        const [s, off] = frameOf(id);
        q.push(s, off, 2);
        model.push(id);
      }
    }
    const r = rand(100);
    if (r < 55 || (step > 10_000 && step < 14_000 && r < 90)) {
      const id = next++ & 0xffff;
      const [s, off] = frameOf(id);
      q.push(s, off, 2);
      model.push(id);
    } else if (r < 65) {
      const n = q.shift();
      equal(n, model.length === 0 ? -1 : 2);
      model.shift();
    } else if (r < 95 && model.length > 0) {
      const size = q.take(2 * (1 + rand(300)), batch);
      const got = frames(batch).map(idOf);
      deepEqual(got, model.slice(0, got.length));
      equal(size, got.length * 2);
      model.splice(0, got.length);
      if (rand(4) === 0) {
        const from = rand(got.length + 1);
        q.putBack(batch, from);
        model.unshift(...got.slice(from));
      }
      q.release();
    } else if (r >= 95 && rand(2) === 0) {
      const ids = [next++ & 0xffff, next++ & 0xffff];
      const buf = new Uint8Array(4);
      ids.forEach((id, i) => buf.set([id & 0xff, id >> 8], i * 2));
      q.unshift(buf, [2, 2]);
      model.unshift(...ids);
    }
    equal(q.length, model.length);
    equal(q.bytes, model.length * 2);
  }
  const rest = newBatch();
  if (model.length > 0) {
    q.take(1 << 30, rest);
    deepEqual(frames(rest).map(idOf), model);
  }
});
