// Exit is bounded in every case, and every record lost at exit is counted:
// programs run as children with a hard kill, so that a hang fails the test.
import { equal, ok } from "node:assert/strict";
import { FrameCounter, freePort, PyReceiver } from "./_receiver.ts";
import { CountReceiver } from "./_count_receiver.ts";
import { runScript } from "./_helpers.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;
const KILL_MS = 20_000;

// With --allow-read the handler does its I/O in a Worker; without, in the
// program's thread: every case runs both ways.
const MODES: [string, string[]][] = [
  ["I/O in this thread", ["--allow-net"]],
  ["I/O worker", ["--allow-net", "--allow-read"]],
];

const runChild = (source: string, args: string[], flags: string[]) =>
  runScript(source, { args, flags, killMs: KILL_MS });

// The handler's unload listener runs first (it was added first): the
// script's own listener then sees the final counts.
const PRINT_STATS =
  `addEventListener("unload", () => console.log(JSON.stringify(h.stats)));`;

for (const [mode, flags] of MODES) {
  Deno.test(`exit (${mode}): a receiver that accepts but never reads does not keep a finished program alive; what is left is counted`, async () => {
    const sink = new FrameCounter(
      Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      false,
    );
    try {
      const r = await runChild(
        `import { SocketHandler } from "${MOD}";
const h = new SocketHandler("127.0.0.1", Number(Deno.args[0]), { exitTimeout: 500 });
${PRINT_STATS}
const pad = "x".repeat(1000);
for (let i = 0; i < 30_000; i++) {
  h.handle({ msg: pad, seq: i });
  if (i % 1000 === 0) await new Promise((r) => setTimeout(r, 1));
}
`,
        [String(sink.port)],
        flags,
      );
      equal(r.killed, false, "the program was still running after 20 s");
      equal(r.code, 0, r.err);
      ok(r.ms < 10_000, `took ${r.ms} ms`);
      const s = JSON.parse(r.out);
      ok(s.dropped > 0, "records left at exit are counted");
      equal(s.sent + s.dropped + s.failed, 30_000);
      equal(s.queued, 0);
      ok(r.err.includes("log records were dropped (exit"), r.err);
    } finally {
      sink.close();
    }
  });

  Deno.test(`exit (${mode}): Deno.exit() with records queued counts and reports them`, async () => {
    const r = await runChild(
      `import { SocketHandler } from "${MOD}";
const h = new SocketHandler("127.0.0.1", Number(Deno.args[0]));
${PRINT_STATS}
for (let i = 0; i < 5; i++) h.handle({ msg: "lost" });
Deno.exit(3);
`,
      [String(freePort())],
      flags,
    );
    equal(r.code, 3, r.err);
    const s = JSON.parse(r.out);
    equal(s.emitted, 5);
    equal(s.dropped, 5);
    ok(r.err.includes("5 log records were dropped (exit"), r.err);
  });

  Deno.test(`exit (${mode}): receiver down, a finished program waits exitTimeout, then counts what is left`, async () => {
    const r = await runChild(
      `import { SocketHandler } from "${MOD}";
const h = new SocketHandler("127.0.0.1", Number(Deno.args[0]), { exitTimeout: 300 });
${PRINT_STATS}
for (let i = 0; i < 7; i++) h.handle({ msg: "lost" });
`,
      [String(freePort())],
      flags,
    );
    equal(r.code, 0, r.err);
    ok(r.ms >= 300 && r.ms < 8_000, `took ${r.ms} ms`);
    const s = JSON.parse(r.out);
    equal(s.dropped, 7);
    ok(r.err.includes("7 log records were dropped (exit"), r.err);
  });

  Deno.test(`exit (${mode}): a program that logs 20,000 records and returns delivers them all, then exits`, async () => {
    const rx = await CountReceiver.start();
    try {
      const r = await runChild(
        `import { SocketHandler } from "${MOD}";
const h = new SocketHandler("127.0.0.1", Number(Deno.args[0]));
${PRINT_STATS}
for (let i = 0; i < 20_000; i++) h.handle({ name: "child", levelno: 20, msg: "n=" + i, seq: i });
`,
        [String(rx.port)],
        flags,
      );
      equal(r.killed, false);
      equal(r.code, 0, r.err);
      const s = JSON.parse(r.out);
      equal(s.sent, 20_000);
      equal(s.dropped, 0);
      const c = await rx.waitFor(20_000);
      equal(c.records, 20_000);
      equal(c.seq_errors, 0);
    } finally {
      await rx.stop();
    }
  });

  Deno.test(`exit (${mode}): an idle, connected handler does not keep the program alive`, async () => {
    const rx = await PyReceiver.start("tcp");
    try {
      const r = await runChild(
        `import { SocketHandler } from "${MOD}";
const h = new SocketHandler("127.0.0.1", Number(Deno.args[0]));
h.handle({ msg: "one" });
await h.flush();
console.error("connected:", h.stats.connected);
`,
        [String(rx.port)],
        flags,
      );
      equal(r.killed, false);
      equal(r.code, 0, r.err);
      ok(r.err.includes("connected: true"), r.err);
      ok(r.ms < 8000, `took ${r.ms} ms`);
    } finally {
      await rx.stop();
    }
  });
}
