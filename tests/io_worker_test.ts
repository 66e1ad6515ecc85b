// The I/O worker's module graph is plain JavaScript: a TypeScript module in
// it is type-checked each time a worker starts cold under `deno test`
// (8 handlers: 5.9 s instead of 0.4 s), long enough for short close
// timeouts to drop records.
import { equal } from "node:assert/strict";
import { plainJsGraph } from "./_helpers.ts";

Deno.test("the I/O worker's module graph holds no TypeScript", async () => {
  const worker = new URL("../handlers/_io_worker.js", import.meta.url);
  equal((await plainJsGraph(worker)).length, 2); // _io_worker.js and _ring.js
});
