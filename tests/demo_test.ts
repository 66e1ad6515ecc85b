// `deno task demo`, the README's first command, on a machine with no
// package cache and no registry: its module graph holds only this
// repository and Deno's built-ins, and the task installs nothing first.
import { deepEqual, equal, match } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

Deno.test("demo: its module graph holds no npm: or jsr: package", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "demo.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
    npmPackages: Record<string, unknown>;
  };
  deepEqual(info.npmPackages, {});
  const schemes = new Set(info.modules.map((m) => m.specifier.split(":")[0]));
  deepEqual([...schemes].sort(), ["file", "node"]);
});

Deno.test("demo: `deno task demo` runs with an empty cache and no registry", async () => {
  const cache = await Deno.makeTempDir({ prefix: "pysocklog-demo-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "demo"],
      cwd: ROOT,
      env: {
        DENO_DIR: cache,
        // Nothing listens on port 1: any registry request fails at once.
        NPM_CONFIG_REGISTRY: "http://127.0.0.1:1/",
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    equal(out.code, 0, text.decode(out.stderr));
    match(text.decode(out.stdout), /receiver: 4 records/);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
