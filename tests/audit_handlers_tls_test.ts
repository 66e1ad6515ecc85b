// Audit of the sending side, TLS: `tls: true` against a plain receiver
// (CPython's cookbook server reads the ClientHello as a frame length and
// waits for the rest) must be reported, not retried in silence.
import { match, ok } from "node:assert/strict";
import { SocketHandler } from "../mod.ts";
import { PyReceiver, sleep } from "./_receiver.ts";

for (const ioWorker of [false, true]) {
  Deno.test(`TLS to a plain CPython receiver (ioWorker: ${ioWorker}): the unanswered handshake is reported, not passed over as a socket error`, async () => {
    const rx = await PyReceiver.start("tcp");
    const errors: unknown[] = [];
    const h = new SocketHandler("127.0.0.1", rx.port, {
      tls: true,
      ioWorker,
      connectTimeout: 300,
      closeTimeout: 0,
      onError: (e) => errors.push(e),
    });
    try {
      h.handle({ msg: "x" });
      const end = Date.now() + 5_000;
      while (errors.length === 0 && Date.now() < end) await sleep(50);
      ok(errors.length >= 1, "nothing reported in 5 s");
      match(String(errors[0]), /TLS handshake .* does the receiver speak TLS/);
    } finally {
      await h.close();
      await rx.stop();
    }
  });
}
