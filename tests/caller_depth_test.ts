// findCaller looks at only a few frames first and looks again, deeper, when
// the caller is not among them: both looks must find the same caller, and
// the runtime's stack settings must be left as they were.
import { equal, ok } from "node:assert/strict";
import { nested } from "./_caller/deep.ts";

function callAt(depth: number) {
  return nested(depth); // line 8
}

Deno.test("findCaller finds the caller past any number of logging frames, shallow after deep", () => {
  for (const depth of [0, 1, 3, 8, 30, 2, 0, 12, 1]) {
    const info = callAt(depth);
    ok(info, `depth ${depth}`);
    equal(info.funcName, "callAt", `depth ${depth}`);
    equal(info.lineno, 8, `depth ${depth}`);
    equal(info.pathname, new URL(import.meta.url).pathname);
  }
});

Deno.test("findCaller leaves Error.stackTraceLimit and prepareStackTrace as they were", () => {
  const E = Error as unknown as {
    stackTraceLimit: number;
    prepareStackTrace?: unknown;
  };
  const limit = E.stackTraceLimit;
  const prepare = E.prepareStackTrace;
  callAt(20);
  equal(E.stackTraceLimit, limit);
  equal(E.prepareStackTrace, prepare);
  const stack = new Error("x").stack ?? "";
  ok(stack.split("\n").length > 2, "errors still get a stack");
});
