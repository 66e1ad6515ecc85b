// deno bench -A bench/makepickle_bench.ts
import { dumps, makeLogRecord, makePickle } from "../mod.ts";

const record = makeLogRecord({
  name: "bench",
  msg: "request 1 handled in 1.500 ms for user alice",
  levelno: 20,
  pathname: "/srv/app/server.ts",
  lineno: 120,
  funcName: "handle",
});
const withExtras = makeLogRecord({ name: "bench", msg: "with extras" }, {
  user: "alice",
  tags: ["a", "b"],
  ctx: { requestId: "1f2e", ms: 1.5 },
});

Deno.bench("makePickle(complete record)", { baseline: true }, () => {
  makePickle(record);
});
Deno.bench("makePickle(record with extras)", () => {
  makePickle(withExtras);
});
Deno.bench("makePickle(partial record): makeLogRecord + encode", () => {
  makePickle({
    name: "bench",
    levelno: 20,
    msg: "request 1 handled in 1.500 ms for user alice",
  });
});
Deno.bench("dumps(record dict)", () => {
  dumps(record);
});
