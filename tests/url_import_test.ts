// The README's "Import from a URL", followed as a user would: the
// repository served over HTTP on 127.0.0.1 (Deno.serve, with a TypeScript
// content type), the README's import map with its base address replaced
// by the server's, and each entry imported by URL in a fresh `deno run`
// outside the repository (no deno.json), with `--allow-import` for that
// host alone. The ./std-log entry is imported where @std/log resolves
// (through PYSOCKLOG_IMPORT_MAP, whose files are served too: a remote module
// may not import a file: one).
import { equal, match, ok } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const README_BASE = "https://example.com/pysocklog/";
/** Where the files of PYSOCKLOG_IMPORT_MAP's folder are served. */
const MAP_PREFIX = "/_import_map/";
const TYPES: Record<string, string> = {
  ".ts": "application/typescript; charset=utf-8",
  ".js": "application/javascript; charset=utf-8",
  ".json": "application/json",
};

/** The JSON import map in the README's "Import from a URL" section. */
async function readmeImportMap(): Promise<{ imports: Record<string, string> }> {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const section = readme.slice(readme.indexOf("### Import from a URL"));
  const block = /```json\n([\s\S]*?)```/.exec(section);
  ok(block, "the section has a json block");
  return JSON.parse(block[1]);
}

/** Serves `ROOT` at `/` and `mapDir` (if any) at MAP_PREFIX. */
function serve(mapDir: URL | undefined): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      const [base, rest] = mapDir && path.startsWith(MAP_PREFIX)
        ? [mapDir, path.slice(MAP_PREFIX.length)]
        : [ROOT, path.slice(1)];
      const file = new URL(rest, base);
      const ext = /\.[a-z]+$/.exec(file.pathname)?.[0] ?? "";
      if (!file.href.startsWith(base.href) || !(ext in TYPES)) {
        return new Response("not found", { status: 404 });
      }
      try {
        return new Response(await Deno.readFile(file), {
          headers: { "content-type": TYPES[ext] },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
}

/** Runs `code` as a module in a fresh `deno run` in `dir`, without a config. */
async function denoRun(
  dir: string,
  code: string,
  flags: string[],
): Promise<{ code: number; out: string; err: string }> {
  const script = `${dir}/app_${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(script, code);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--no-lock", ...flags, script],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    code: out.code,
    out: text.decode(out.stdout),
    err: text.decode(out.stderr),
  };
}

/** An import map's addresses rebased from the folder of `from` onto `to`. */
function rebase(
  imports: Record<string, string>,
  from: URL,
  to: string,
): Record<string, string> {
  const dir = new URL(".", from).href;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(imports)) {
    const abs = /^\.{0,2}\//.test(value) ? new URL(value, from).href : value;
    out[key] = abs.startsWith(dir) ? to + abs.slice(dir.length) : abs;
  }
  return out;
}

Deno.test("README: each entry imports by URL from a static server, through the README's import map", async () => {
  const given = Deno.env.get("PYSOCKLOG_IMPORT_MAP");
  const givenUrl = given ? new URL(given, `file://${Deno.cwd()}/`) : undefined;
  const server = serve(givenUrl && new URL(".", givenUrl));
  const host = `127.0.0.1:${server.addr.port}`;
  const dir = await Deno.makeTempDir({ prefix: "pysocklog-url-" });
  try {
    const map = await readmeImportMap();
    const imports: Record<string, string> = {};
    for (const [key, value] of Object.entries(map.imports)) {
      imports[key] = value.replace(README_BASE, `http://${host}/`);
    }
    // One line per entry of deno.json's exports, each to its own file.
    const config = JSON.parse(
      await Deno.readTextFile(new URL("deno.json", ROOT)),
    ) as { exports: Record<string, string> };
    for (const [sub, file] of Object.entries(config.exports)) {
      const name = "@pysocklog/pysocklog" + sub.slice(1);
      equal(imports[name], `http://${host}/${file.slice(2)}`, name);
    }
    if (givenUrl) {
      const user = JSON.parse(await Deno.readTextFile(givenUrl)) as {
        imports: Record<string, string>;
      };
      Object.assign(
        imports,
        rebase(user.imports, givenUrl, `http://${host}${MAP_PREFIX}`),
      );
    }
    const mapFile = `${dir}/import_map.json`;
    await Deno.writeTextFile(mapFile, JSON.stringify({ imports }));
    // As the README says: the host, and jsr.io for @std/log.
    const flags = [`--import-map=${mapFile}`, `--allow-import=${host},jsr.io`];

    const core = await denoRun(
      dir,
      `import * as core from "@pysocklog/pysocklog";
import * as logtape from "@pysocklog/pysocklog/logtape";
import * as receiver from "@pysocklog/pysocklog/receiver";
import * as cli from "@pysocklog/pysocklog/cli";
import * as LogTape from "@logtape/logtape";
const names = (m: object, keys: string[]) =>
  keys.filter((k) => typeof (m as Record<string, unknown>)[k] !== "function");
console.log(JSON.stringify([
  ...names(core, ["SocketHandler", "DatagramHandler", "makePickle", "makeLogRecord", "dumps", "loads"]),
  ...names(logtape, ["getSocketSink", "getDatagramSink", "fromLogTapeRecord"]),
  ...names(receiver, ["listen"]),
  ...names(cli, ["formatRecord"]),
  ...names(LogTape, ["configure", "getLogger"]),
]));
console.log(import.meta.resolve("@pysocklog/pysocklog/logtape"));`,
      flags,
    );
    equal(core.code, 0, core.err);
    const [missing, resolved] = core.out.trim().split("\n");
    equal(missing, "[]", "every export is there");
    equal(resolved, `http://${host}/logtape.ts`);

    // Without --allow-import Deno refuses the host, as the README says.
    const denied = await denoRun(
      dir,
      `import "@pysocklog/pysocklog";`,
      flags.slice(0, 1),
    );
    ok(denied.code !== 0);
    match(denied.err, /--allow-import/);
    match(denied.err, new RegExp(host.replaceAll(".", "\\.")));

    const stdLog = await denoRun(
      dir,
      `import { DatagramHandler, SocketHandler } from "@pysocklog/pysocklog/std-log";
import { BaseHandler } from "@std/log";
const net = new SocketHandler("INFO", { port: 1 });
console.log(net instanceof BaseHandler, typeof DatagramHandler);
await net.close();`,
      [...flags, "--allow-net=127.0.0.1"],
    );
    if (given === undefined && /jsr\.io|@std\/log/.test(stdLog.err)) {
      // One SKIP line per run: the task runner's, when it printed it.
      if (!Deno.env.get("PYSOCKLOG_STD_LOG_SKIP_SHOWN")) {
        console.log(
          `SKIP url import of ./std-log: @std/log does not resolve here (${
            stdLog.err.split("\n").find((l) => l.startsWith("error")) ?? ""
          })`,
        );
      }
    } else {
      equal(stdLog.code, 0, stdLog.err);
      equal(stdLog.out.trim(), "true function");
    }
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
