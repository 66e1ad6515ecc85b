// The layers of README's "Architecture", checked: every import between two
// of the package's files goes down the table below, never up or sideways.
// Moving a file to the wrong folder, or importing upwards, fails here.
import { deepEqual } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** Each layer, and the layers its files may import (besides its own). */
const MAY_IMPORT: Record<string, string[]> = {
  "util/": [],
  "pickle/": ["util/"],
  "record/": ["pickle/", "util/"],
  "record.ts": ["record/"],
  "handlers/": ["record.ts", "util/"],
  "mod.ts": ["pickle/", "record.ts", "handlers/"],
  "receiver/": ["receiver.ts", "pickle/", "record/", "util/"],
  "receiver.ts": ["receiver/", "pickle/", "record.ts"],
  "adapters/": ["handlers/", "record.ts"],
  "deps.ts": [],
  "std_log.ts": ["adapters/", "deps.ts", "handlers/", "mod.ts", "record.ts"],
  "logtape.ts": ["adapters/", "handlers/", "mod.ts", "record.ts"],
  "viewer/": ["receiver.ts", "record.ts", "pickle/", "cli/"], // one layer in README
  "cli/": ["pickle/", "record/", "util/"],
  "cli.ts": ["cli/", "mod.ts", "receiver.ts", "record.ts", "viewer/"],
  "demo.ts": ["cli.ts", "mod.ts", "receiver.ts"],
};

/** The layer of a file of the package: its top folder, or itself. */
function layerOf(specifier: string): string | null {
  if (!specifier.startsWith(ROOT.href)) return null;
  const rest = specifier.slice(ROOT.href.length);
  const slash = rest.indexOf("/");
  return slash < 0 ? rest : rest.slice(0, slash + 1);
}

interface ModuleInfo {
  specifier: string;
  dependencies?: {
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

async function modulesOf(file: string): Promise<ModuleInfo[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(file, ROOT).href],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success) return []; // std_log.ts where @std/log does not resolve
  return JSON.parse(new TextDecoder().decode(out.stdout)).modules;
}

Deno.test("imports go down the layers of README's Architecture", async () => {
  const entries = [
    "mod.ts",
    "record.ts",
    "receiver.ts",
    "cli.ts",
    "logtape.ts",
    "std_log.ts",
    "demo.ts",
    "handlers/_io_worker.js",
  ];
  const wrong = new Set<string>();
  let seen = 0;
  for (const entry of entries) {
    for (const m of await modulesOf(entry)) {
      const from = layerOf(m.specifier);
      if (from === null) continue;
      seen++;
      for (const d of m.dependencies ?? []) {
        const target = d.code?.specifier ?? d.type?.specifier;
        const to = target === undefined ? null : layerOf(target);
        if (to === null || to === from) continue;
        if (!(MAY_IMPORT[from] ?? []).includes(to)) {
          wrong.add(`${m.specifier.slice(ROOT.href.length)} -> ${to}`);
        }
      }
    }
  }
  deepEqual([...wrong], []);
  if (seen < 40) throw new Error(`only ${seen} modules seen`);
});
