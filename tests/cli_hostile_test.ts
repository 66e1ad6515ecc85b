// The CLI against records a hostile peer sends (built by CPython, framed as
// SocketHandler frames them) and as a Unix tool: signals, a closed stdout,
// stale socket files.
import { equal, match, ok } from "node:assert/strict";
import { CLI, runCli, startListen, until } from "./_cli.ts";
import { pyScript, runPython } from "./_helpers.ts";
import { DEFAULT_MAX_RECORD_CHARS } from "../cli.ts";

/** `tests/_py/cli_records.py PORT CASE...`: hostile records, then CPython's SocketHandler. */
function sendRecords(port: number, ...cases: string[]) {
  return runPython([pyScript("cli_records.py"), String(port), ...cases]);
}

/** Closing brackets of the 60-deep DAG and the cut markers. */
const SLACK = 200;

Deno.test("cli: a DAG of 2^60 leaves, cycles, toString/__proto__ keys and bytes render bounded in text and --json; the next record still arrives", async () => {
  const [text, json] = await Promise.all([
    startListen(["--port", "0"]),
    startListen(["--port", "0", "--json"]),
  ]);
  try {
    const cases = ["dag", "cycle", "keys", "bytes", "normal"];
    await Promise.all([
      sendRecords(text.port, ...cases),
      sendRecords(json.port, ...cases),
    ]);
    await until(() => text.lines.length >= 5 && json.lines.length >= 5);
    equal(json.lines.length, 5, json.errors.join("\n"));
    const byName = new Map(
      json.lines.map((l) => {
        ok(l.length <= DEFAULT_MAX_RECORD_CHARS + SLACK, `${l.length} chars`);
        const r = JSON.parse(l);
        return [typeof r.name === "string" ? r.name : "?", r];
      }),
    );
    const dag = byName.get("hostile.dag");
    equal(dag.$truncated, true);
    equal(dag.msg, "dag");
    const cycle = byName.get("hostile.cycle");
    equal(JSON.stringify(cycle.loop), '[{"$cycle":true}]');
    equal(JSON.stringify(cycle.inner), '{"self":{"$cycle":true}}');
    equal(JSON.stringify(cycle.me), '{"$cycle":true}');
    const keys = byName.get("hostile.keys");
    equal(
      JSON.stringify(keys.msg),
      '{"toString":1,"valueOf":2,"constructor":3}',
    );
    equal(keys.toString, 1);
    equal(
      JSON.stringify(Object.getOwnPropertyDescriptor(keys, "__proto__")!.value),
      '{"polluted":true}',
    );
    equal(keys.toJSON, "j");
    equal(
      JSON.stringify(byName.get("hostile.bytes").raw),
      '{"$bytes":"AAFoaQ=="}',
    );
    equal(byName.get("app.db").msg, "after hostile");
    equal(byName.get("app.db").user, "ann");

    equal(text.lines.length, 5, text.errors.join("\n"));
    const line = (name: string) =>
      text.lines.find((l) => l.includes(` ${name}: `))!;
    for (const l of text.lines) {
      ok(l.length <= DEFAULT_MAX_RECORD_CHARS + SLACK, `${l.length} chars`);
    }
    match(
      line("hostile.dag"),
      / hostile\.dag: dag dag=\[\[\[.*…\(\+1 items\)\]+$/,
    );
    match(
      line("hostile.cycle"),
      / loop=\[\[\.\.\.\]\] inner=\{'self': \{\.\.\.\}\} me=\{\.\.\.\}$/,
    );
    match(
      line("hostile.keys"),
      /: \{'toString': 1, 'valueOf': 2, 'constructor': 3\} toString=1 valueOf=v __proto__=\{'polluted': True\}/,
    );
    match(line("hostile.bytes"), / raw=b'\\x00\\x01hi'$/);
    match(line("app.db"), / INFO {5}app\.db: after hostile user=ann$/);
  } finally {
    equal(await text.stop(), 0, "text listener exits 0 on SIGTERM");
    equal(await json.stop(), 0, "json listener exits 0 on SIGTERM");
  }
});

Deno.test("cli: a record past --max-chars is cut and marked", async () => {
  const [text, json] = await Promise.all([
    startListen(["--port", "0", "--max-chars", "1000"]),
    startListen(["--port", "0", "--json", "--max-chars", "1000"]),
  ]);
  try {
    await Promise.all([
      sendRecords(text.port, "big"),
      sendRecords(json.port, "big"),
    ]);
    await until(() => text.lines.length >= 1 && json.lines.length >= 1);
    const t = text.lines[0];
    ok(t.length <= 1000 + 40, `${t.length} chars`);
    match(t, /: x+…\(\+\d+ chars\) …\(\+2 extras\)$/);
    const j = json.lines[0];
    ok(j.length <= 1000 + 40, `${j.length} chars`);
    const r = JSON.parse(j);
    match(r.msg, /^x+…\(\+\d+ chars\)$/);
    equal(r.$truncated, true);
  } finally {
    await Promise.all([text.stop(), json.stop()]);
  }
});

Deno.test("cli: SIGINT ends listen within a second while DAG records pour in and stdout is stalled", async () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const rx = await startListen(["--port", "0", "--json"], {
      stallStdout: true,
    });
    await sendRecords(rx.port, ...Array(100).fill("dag"));
    const start = Date.now();
    const code = await rx.stop(signal, 5_000);
    const ms = Date.now() - start;
    equal(code, 0, `${signal}: exit code (null: still running after 5 s)`);
    ok(ms < 3_000, `${signal} took ${ms} ms`);
    await rx.child.stdout.cancel();
  }
});

Deno.test("cli: `listen --json | head -1` ends quietly with exit 0", async () => {
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `set -o pipefail; "${Deno.execPath()}" run --allow-net "${CLI}" listen --port 0 --json | head -1`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  let port = 0;
  const reading = (async () => {
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      stderr += chunk;
      port ||= Number(
        /listening on tcp 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1] ?? 0,
      );
    }
  })();
  await until(() => port > 0);
  ok(port > 0, stderr);
  // head takes the first line and exits; the next writes find the pipe closed.
  for (let i = 0; i < 5; i++) {
    const r = await runCli(["send", "--port", String(port), `record ${i}`]);
    if (r.code !== 0) break; // listen is gone
  }
  const status = await Promise.race([
    child.status,
    new Promise<null>((r) => setTimeout(() => r(null), 10_000)),
  ]);
  if (status === null) child.kill("SIGKILL");
  const out = new TextDecoder().decode(
    (await new Response(child.stdout).arrayBuffer()) as ArrayBuffer,
  );
  await reading;
  ok(status !== null, "listen did not end after its reader left");
  equal(status.code, 0, stderr);
  equal(JSON.parse(out).msg, "record 0");
  equal(stderr.trim().split("\n").length, 1, stderr); // only "listening on"
});

Deno.test("cli: --unix replaces a stale socket file only when nothing listens there, and removes its own on exit", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/log.sock`;
  const permissions = ["--allow-net", "--allow-read", "--allow-write"];
  try {
    // A socket file nobody listens on: what a killed receiver leaves.
    await runPython([
      "-c",
      "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
      path,
    ]);
    ok((await Deno.lstat(path)).isSocket);
    const rx = await startListen(["--unix", path], { permissions });
    try {
      // A second receiver must not take over the live socket.
      const second = await runCli(["listen", "--unix", path], { permissions });
      equal(second.code, 1);
      match(
        second.stderr,
        /^pysocklog: cannot listen on unix .*: another receiver is listening there\n$/,
      );
      const sent = await runCli(["send", "--unix", path, "over unix"], {
        permissions,
      });
      equal(sent.code, 0, sent.stderr);
      await until(() => rx.lines.length >= 1);
      match(rx.lines[0], /pysocklog: over unix$/);
    } finally {
      equal(await rx.stop("SIGINT"), 0);
    }
    let gone = false;
    try {
      await Deno.lstat(path);
    } catch (error) {
      gone = error instanceof Deno.errors.NotFound;
    }
    ok(gone, "the socket file is removed on SIGINT");
    // A file that is not a socket is never removed.
    await Deno.writeTextFile(path, "keep me");
    const blocked = await runCli(["listen", "--unix", path], { permissions });
    equal(blocked.code, 1);
    match(blocked.stderr, /the file exists and is not a socket\n$/);
    equal(await Deno.readTextFile(path), "keep me");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
