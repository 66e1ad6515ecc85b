// The cost of caller information per record: deno bench -A bench/caller_bench.ts
import { findCaller, makeLogRecord, makePickle } from "../mod.ts";

function logCall() {
  return findCaller();
}

Deno.bench("makePickle(makeLogRecord(partial)) without caller info", {
  baseline: true,
}, () => {
  makePickle(
    makeLogRecord({ name: "bench", levelno: 20, msg: "request 1 handled" }),
  );
});
Deno.bench("findCaller() alone", () => {
  logCall();
});
Deno.bench("makePickle(makeLogRecord(partial)) with caller info", () => {
  makePickle(
    makeLogRecord({
      name: "bench",
      levelno: 20,
      msg: "request 1 handled",
      ...logCall(),
    }),
  );
});
