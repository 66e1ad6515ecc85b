// A receiver in its own process, so a test can read its peak RSS:
// `deno run -A --v8-flags=--expose-gc tests/_receiver_child.ts '<options JSON>' [µs of work per record]`.
// Prints "PORT <n>", then on each line read from stdin ("status" or "gc")
// one JSON line: stats, RSS, external (ArrayBuffer) and heap bytes now
// (after a full GC for "gc"), and per logger
// name the records received, the longest gap between two of them, and the
// largest delay from `created` to arrival (ms).
import { listen } from "../receiver.ts";

const options = JSON.parse(Deno.args[0] ?? "{}");
/** Microseconds of work per record (a consumer as slow as a formatter). */
const work = Number(Deno.args[1] ?? 0) / 1000;
const rx = await listen({ port: 0, onError: () => {}, ...options });
interface Client {
  n: number;
  first: number;
  last: number;
  maxGap: number;
  maxDelay: number;
}
const clients: Record<string, Client> = {};
(async () => {
  for await (const r of rx) {
    const now = Date.now();
    const name = String(r.name);
    const c = clients[name] ??= {
      n: 0,
      first: now,
      last: now,
      maxGap: 0,
      maxDelay: 0,
    };
    c.n++;
    if (work > 0) {
      const until = performance.now() + work;
      while (performance.now() < until) {
        // a consumer that formats and writes each record
      }
    }
    if (now - c.last > c.maxGap) c.maxGap = now - c.last;
    c.last = now;
    const delay = now - (r.created as number) * 1000;
    if (delay > c.maxDelay) c.maxDelay = delay;
  }
})();
console.log(`PORT ${(rx.addr as Deno.NetAddr).port}`);
const gc = (globalThis as { gc?: () => void }).gc;
for await (
  const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
) {
  for (const cmd of chunk.split("\n")) {
    if (cmd === "") continue;
    if (cmd === "gc") {
      // Twice, with a turn between: ArrayBuffers are freed in a second pass.
      gc?.();
      await new Promise((r) => setTimeout(r, 50));
      gc?.();
    }
    const mem = Deno.memoryUsage();
    console.log(JSON.stringify({
      stats: rx.stats,
      rss: mem.rss,
      external: mem.external,
      heapUsed: mem.heapUsed,
      clients,
    }));
  }
}
await rx.close();
