import { equal, ok } from "node:assert/strict";
import { findCaller, makeLogRecord } from "../mod.ts";

class Service {
  handle() {
    return findCaller(); // line 6
  }
}

function viaHelper() {
  // A helper that counts as library code is skipped, as CPython skips logging's frames.
  return findCaller((file) => file.endsWith("_helpers.ts"));
}

Deno.test("findCaller names the file, line and function of the call", () => {
  const info = new Service().handle();
  ok(info);
  equal(info.pathname, new URL(import.meta.url).pathname);
  equal(info.lineno, 6);
  equal(info.funcName, "handle");
  const rec = makeLogRecord({ msg: "x", ...info });
  equal(rec.filename, "caller_test.ts");
  equal(rec.module, "caller_test");
});

Deno.test("findCaller skips files it is told are logging code", () => {
  const info = viaHelper();
  equal(info?.funcName, "viaHelper");
  const none = findCaller(() => true);
  equal(none, undefined);
});
