// Copyright the pysocklog authors. MIT license.
// An awaited flush() holds the program until its records are written, even
// when nothing else does: the handler's own I/O is unref'd (an unclosed
// handler must not hold a program). At top level the handler's beforeunload
// listener kept such a program going, but inside `deno test` there is no
// beforeunload: the event loop ended first, "Promise resolution is still
// pending but the event loop has already resolved" (the LogTape example
// failed 8 of 10 runs on a busy machine).
import { equal, match } from "node:assert/strict";

const MOD = new URL("../mod.ts", import.meta.url).href;

/** A CPython receiver that waits 1 s before it reads each connection. */
const SLOW_RECEIVER = `
import socket, sys, threading, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
def drain(c):
    time.sleep(1.0)
    while c.recv(1 << 16):
        pass
while True:
    c, _ = s.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()
`;

/**
 * The child, a test file: starts the receiver, unref's it (so that only
 * the handler could hold the program), logs 30 MB (more than the socket
 * buffers take before the receiver reads) and awaits flush().
 */
const CHILD = `
import { SocketHandler } from "${MOD}";
const [ioWorker, portFile, script] = Deno.args;
Deno.test("flush", async () => {
const py = new Deno.Command("python3", {
  args: ["-c", script, portFile], stdin: "null", stdout: "null", stderr: "inherit",
}).spawn();
let port = "";
while (!(port = await Deno.readTextFile(portFile).catch(() => ""))) {
  await new Promise((r) => setTimeout(r, 20));
}
py.unref();
const h = new SocketHandler("127.0.0.1", Number(port), { ioWorker: ioWorker === "true" });
for (let i = 0; i < 3000; i++) h.handle({ name: "t", msg: "record %d " + "x".repeat(10000), args: [i] });
await h.flush();
console.log("flushed " + h.stats.sent);
py.kill();
py.ref();
await py.status;
});
`;

for (const ioWorker of [false, true]) {
  Deno.test(`flush() holds the program until its records are written (ioWorker: ${ioWorker})`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/child_test.ts`, CHILD);
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "test",
          "-A",
          "--no-check",
          `${dir}/child_test.ts`,
          "--",
          String(ioWorker),
          `${dir}/port`,
          SLOW_RECEIVER,
        ],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      equal(out.code, 0, stdout + new TextDecoder().decode(out.stderr));
      match(stdout, /flushed 3000\n/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
