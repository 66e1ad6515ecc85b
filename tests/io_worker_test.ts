// The I/O worker's module graph is plain JavaScript: a TypeScript module in
// it is type-checked each time a worker starts cold under `deno test`
// (8 handlers: 5.9 s instead of 0.4 s), long enough for short close
// timeouts to drop records.
import { deepEqual } from "node:assert/strict";

Deno.test("the I/O worker's module graph holds no TypeScript", async () => {
  const worker = new URL("../handlers/_io_worker.js", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", worker.href],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; mediaType?: string }[];
  };
  const local = info.modules.filter((m) => m.specifier.startsWith("file:"));
  deepEqual(
    local.filter((m) => m.mediaType !== "JavaScript").map((m) => m.specifier),
    [],
  );
  deepEqual(local.length, 2); // _io_worker.js and _ring.js
});
