// Caller info over many distinct call sites (bench/_caller_sites.ts:
// functions, methods, arrows, async functions, a user's helper, recursion,
// a native frame between handle and the caller, static methods; in several
// transpiled modules, interleaved). A handler with `caller: true` must send,
// byte for byte, the frame of the same record given the site's file, line
// and function by hand; its fast path (no filters) and its record path (a
// filter) alike; and findCaller's short first look must find what a full
// walk of the stack finds.
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  type FrameBatch,
  Handler,
  type LogRecordInit,
  makePickle,
} from "../mod.ts";
import { findCallerAbove } from "../record/caller.ts";
import { toPath } from "../record/model.ts";
import { makeCallSites, SITE_KINDS } from "../bench/_caller_sites.ts";

/** A handler whose transport keeps a copy of every frame. */
class KeepingHandler extends Handler {
  frames: Uint8Array[] = [];
  protected ensureOpen(): Promise<boolean> {
    return Promise.resolve(true);
  }
  protected transmit(batch: FrameBatch): Promise<void> {
    let pos = 0;
    for (const n of batch.lengths) {
      this.frames.push(batch.data.slice(pos, pos + n));
      pos += n;
    }
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

const { sites, dir } = await makeCallSites(3, 3);

function recordFor(i: number): LogRecordInit {
  return {
    name: `app.m${i % 5}`,
    levelno: 20,
    msg: "request %s took %d ms",
    args: ["/orders", i],
    created: 1_700_000_000 + i / 8,
  };
}

Deno.test({
  name:
    "caller: true sends each site's file, line and function, fast path and record path alike",
  sanitizeResources: false,
  fn: async () => {
    try {
      equal(sites.length, 3 * 3 * SITE_KINDS.length);
      const fast = new KeepingHandler({ caller: true });
      const slow = new KeepingHandler({ caller: true });
      slow.addFilter(() => true); // a filter: the record path
      const expected: Uint8Array[] = [];
      // Twice round, so each site comes after sites of other depths.
      for (let round = 0; round < 2; round++) {
        sites.forEach((site, i) => {
          const record = recordFor(i);
          site.call(fast, record);
          site.call(slow, record);
          const { pathname, lineno, funcName } = site;
          const given = site.kind === "method"
            ? { ...record, path: "/orders" }
            : record;
          expected.push(makePickle({ ...given, pathname, lineno, funcName }));
        });
      }
      await fast.flush();
      await slow.flush();
      equal(fast.frames.length, expected.length);
      equal(slow.frames.length, expected.length);
      for (let i = 0; i < expected.length; i++) {
        const site = sites[i % sites.length];
        const what = `${site.kind} site at line ${site.lineno}`;
        deepEqual(fast.frames[i], expected[i], `fast path: ${what}`);
        deepEqual(slow.frames[i], expected[i], `record path: ${what}`);
      }
      await fast.close();
      await slow.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The reference: every frame of the stack, the first one past this package's own files. */
function fullWalk(): { pathname: string; lineno: number; funcName: string } {
  const E = Error as unknown as {
    prepareStackTrace?: unknown;
    stackTraceLimit: number;
  };
  const [prepare, limit] = [E.prepareStackTrace, E.stackTraceLimit];
  E.prepareStackTrace = (_: unknown, s: unknown) => s;
  E.stackTraceLimit = 100;
  const holder: { stack?: unknown } = {};
  Error.captureStackTrace(holder, fullWalk);
  const stack = holder.stack as {
    getScriptNameOrSourceURL(): string | null;
    getLineNumber(): number | null;
    getFunctionName(): string | null;
    isToplevel(): boolean;
  }[];
  E.prepareStackTrace = prepare;
  E.stackTraceLimit = limit;
  const root = new URL("../", import.meta.url).href;
  for (const s of stack) {
    const file = s.getScriptNameOrSourceURL();
    if (!file || file.startsWith("ext:")) continue;
    const rest = file.startsWith(root) ? file.slice(root.length) : null;
    if (rest !== null && !/^(tests|bench)\//.test(rest)) continue;
    if (rest === "tests/caller_sites_test.ts") continue; // this test's handler
    return {
      pathname: toPath(file),
      lineno: s.getLineNumber() ?? 0,
      funcName: s.getFunctionName() ??
        (s.isToplevel() ? "<module>" : "<anonymous>"),
    };
  }
  throw new Error("no caller");
}

Deno.test({
  name:
    "findCaller's first look, short and adapted to each entry, finds what a full walk finds",
  fn: async () => {
    const { sites, dir } = await makeCallSites(2, 2);
    try {
      const got: unknown[] = [];
      const want: unknown[] = [];
      // An entry point on the stack: a handle() whose class is in this file.
      const probe = {
        handle(_record: Record<string, unknown>) {
          got.push(findCallerAbove(probe.handle));
          want.push(fullWalk());
        },
      };
      for (let round = 0; round < 3; round++) {
        for (const site of sites) site.call(probe, {});
      }
      ok(got.length > 0);
      deepEqual(got, want);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
