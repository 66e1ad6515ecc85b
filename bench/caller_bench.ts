// What caller info costs per record: deno bench -A bench/caller_bench.ts
//
// A handler's handle() with `caller: false` (the default) against
// `caller: true`, from two call sites in turn, the frames going nowhere (a
// transport that drops each batch), and findCaller() alone. CPython's own
// figure, Logger.findCaller from a 5-deep stack, is about 0.3 µs on the same
// machine (python3 -m timeit). Most of ours is Deno's, whatever findCaller
// does: capturing the stack (~1.2 µs), wrapping each frame for
// Error.prepareStackTrace (~1.4 µs for the first, ~0.4 µs each further one)
// and mapping the line through the source map (getLineNumber, ~2 µs).
import { findCaller, type FrameBatch, Handler } from "../mod.ts";

/** A handler whose transport takes every batch and drops it. */
class NullHandler extends Handler {
  protected ensureOpen(): Promise<boolean> {
    return Promise.resolve(true);
  }
  protected transmit(_batch: FrameBatch): Promise<void> {
    return Promise.resolve();
  }
  protected closeTransport(): void {}
  protected reconnectCount(): number {
    return 0;
  }
  protected isConnected(): boolean {
    return true;
  }
}

const off = new NullHandler({ caller: false });
const on = new NullHandler({ caller: true });
let n = 0;
const record = () => ({
  name: "app.http",
  levelno: 20,
  msg: "request %s took %d ms",
  args: ["/orders", n++ & 1023],
});

function siteA(h: Handler) {
  h.handle(record());
}
function siteB(h: Handler) {
  h.handle(record());
}
function user() {
  return findCaller();
}

Deno.bench("handle(), caller: false (the default)", {
  group: "handle",
  baseline: true,
}, async (b) => {
  b.start();
  for (let i = 0; i < 1000; i++) (i & 1 ? siteA : siteB)(off);
  b.end();
  await off.flush();
});
Deno.bench("handle(), caller: true", { group: "handle" }, async (b) => {
  b.start();
  for (let i = 0; i < 1000; i++) (i & 1 ? siteA : siteB)(on);
  b.end();
  await on.flush();
});
Deno.bench("findCaller() alone, x1000", () => {
  for (let i = 0; i < 1000; i++) user();
});
