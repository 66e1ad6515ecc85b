// Copyright the pysocklog authors. MIT license.
// The layout of the ring SocketHandler shares with its I/O worker: plain
// JavaScript, like the worker (_io_worker.js), so that starting a worker
// type-checks nothing (under `deno test`, a TypeScript worker module was
// type-checked at each cold start: 8 handlers took 5.9 s instead of 0.4 s).

/** Slots of the shared control array. */
export const CTL = Object.freeze({
  /** Bytes the handler has put in the ring since the connection opened (mod 2^32). */
  HEAD: 0,
  /** Bytes the worker has written to the socket since then (mod 2^32). */
  TAIL: 1,
  /** STATE.* */
  STATE: 2,
  /** Non-zero: the handler wants a message after each write (it waits for room or progress). */
  WANT: 3,
  SIZE: 8,
});

/** Connection states in CTL.STATE. */
export const STATE = Object.freeze({ OPENING: 0, OPEN: 1, LOST: 2 });
