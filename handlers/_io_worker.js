// Copyright the pysocklog authors. MIT license.
// Plain JavaScript, so that starting it type-checks nothing (see _ring.js);
// the messages it takes and sends are typed in _worker_conn.ts.
// The socket side of SocketHandler's I/O worker (see _worker_conn.ts): it
// owns the connection and writes what the handler puts in a shared ring.
// Its own event loop polls the socket as soon as it is writable, whatever
// the handler's thread is doing.
import { parentPort, workerData } from "node:worker_threads";
import { CTL, STATE } from "./_ring.js";

const sab = workerData.sab;
const ctl = new Int32Array(sab, 0, CTL.SIZE);
const ring = new Uint8Array(sab, CTL.SIZE * 4);
const size = ring.length;
const port = parentPort;

/** @type {Deno.Conn | null} */
let conn = null;
let epoch = 0;

function post(message) {
  port.postMessage(message);
}

function errorOf(e) {
  return e instanceof Error
    ? { name: e.name, message: e.message }
    : { name: "Error", message: String(e) };
}

async function connect(o) {
  const signal = AbortSignal.timeout(o.connectTimeout);
  if (o.path !== undefined) {
    return await Deno.connect({ transport: "unix", path: o.path });
  }
  const tcp = await Deno.connect({ hostname: o.host, port: o.port, signal });
  tcp.setNoDelay(true); // see socket.ts: Nagle's algorithm lost records at restarts
  if (!o.tls) return tcp;
  const tls = await Deno.startTls(tcp, {
    hostname: o.tlsHostname ?? o.host,
    caCerts: o.caCerts,
  });
  // The handshake within connectTimeout too, and said apart from a socket
  // error: a peer that never answers it is most often a plain receiver
  // given tls (see socket.ts, tlsTimeout).
  let timedOut = false;
  const giveUp = () => {
    timedOut = true;
    close(tls);
  };
  if (signal.aborted) giveUp();
  else signal.addEventListener("abort", giveUp, { once: true });
  try {
    await tls.handshake();
    return tls;
  } catch (error) {
    close(tls);
    if (!timedOut) throw error;
    const timeout = new Error(
      `TLS handshake with ${o.host}:${o.port} got no answer in ${o.connectTimeout} ms: does the receiver speak TLS?`,
    );
    timeout.name = "TlsHandshakeTimeout";
    throw timeout;
  } finally {
    signal.removeEventListener("abort", giveUp);
  }
}

function close(c) {
  try {
    c.close();
  } catch {
    // closed
  }
}

function lose(c, ep, error) {
  if (conn !== c || epoch !== ep) return;
  conn = null;
  Atomics.store(ctl, CTL.STATE, STATE.LOST);
  try {
    c.close();
  } catch {
    // closed
  }
  post({ t: "lost", epoch: ep, error: errorOf(error) });
}

/** Writes the ring to the connection as long as it is the current one. */
async function pump(c, ep) {
  let tail = Atomics.load(ctl, CTL.TAIL) >>> 0;
  while (conn === c && epoch === ep) {
    // Unsigned, as tail: read signed, a head past 2 GiB never equalled
    // tail, and the loop wrote empty views and posted "progress" without
    // end (10M records: 330 MB RSS instead of 150, half the records/s).
    const head = Atomics.load(ctl, CTL.HEAD) >>> 0;
    if (head === tail) {
      if (Atomics.load(ctl, CTL.WANT) !== 0) post({ t: "progress", epoch: ep });
      const w = Atomics.waitAsync(ctl, CTL.HEAD, head | 0);
      if (w.async) await w.value;
      continue;
    }
    const start = tail % size;
    const n = Math.min((head - tail) >>> 0, size - start);
    let wrote;
    try {
      wrote = await c.write(ring.subarray(start, start + n));
    } catch (error) {
      lose(c, ep, error);
      return;
    }
    tail = (tail + wrote) >>> 0;
    Atomics.store(ctl, CTL.TAIL, tail | 0);
    if (Atomics.load(ctl, CTL.WANT) !== 0) post({ t: "progress", epoch: ep });
  }
}

/** Waits for EOF or an error: the receiver never sends. */
async function watch(c, ep) {
  const buf = new Uint8Array(512);
  let error = new Deno.errors.ConnectionReset(
    "The receiver closed the connection",
  );
  try {
    while ((await c.read(buf)) !== null) {
      // Data from a receiver is not expected; ignore it.
    }
  } catch (e) {
    error = e;
  }
  lose(c, ep, error);
}

port.on("message", async (m) => {
  if (m.t === "open") {
    if (conn !== null) {
      try {
        conn.close();
      } catch {
        // closed
      }
      conn = null;
    }
    epoch = m.epoch;
    try {
      const c = await connect(m.options);
      if (epoch !== m.epoch) {
        c.close();
        return;
      }
      conn = c;
      Atomics.store(ctl, CTL.STATE, STATE.OPEN);
      post({ t: "opened", epoch: m.epoch });
      watch(c, m.epoch);
      pump(c, m.epoch);
    } catch (error) {
      if (epoch === m.epoch) {
        post({ t: "failed", epoch: m.epoch, error: errorOf(error) });
      }
    }
  } else if (m.t === "close" && m.epoch === epoch) {
    const c = conn;
    conn = null;
    epoch = -1;
    Atomics.store(ctl, CTL.STATE, STATE.LOST);
    Atomics.notify(ctl, CTL.HEAD);
    try {
      c?.close();
    } catch {
      // closed
    }
  }
});

post({ t: "ready", epoch: 0 });
