// Copyright the pysocklog authors. MIT license.
// Plain JavaScript, so that starting it type-checks nothing (see
// handlers/_ring.js); the messages it takes and sends are typed in _udp.ts.
// The UDP receiver's socket, in a Worker whose event loop does nothing else:
// it drains the kernel's buffer (208 KiB, ~7 ms at 50,000 datagrams/s) at
// once, whatever the receiver's thread is doing, and hands the datagrams
// over in batches (one transferred ArrayBuffer per batch, in order).
//
// Batch layout, per datagram: u32 length, u16 port, u16 index into the
// batch's `hosts`, then the payload.
import { parentPort, workerData } from "node:worker_threads";
import dgram from "node:dgram";

/** Receives kept in flight on a `Deno.listenDatagram` socket. */
const RECEIVES_IN_FLIGHT = 8;
/** Largest UDP payload. */
const MAX_DATAGRAM = 65_536;
/** A batch is posted when it holds this many bytes, or at the end of a turn. */
const BATCH_BYTES = 256 * 1024;
/** Bytes of a datagram's header in a batch. */
const HEADER_BYTES = 8;
/** Posted bytes the receiver's thread has not taken yet, beyond which the
 * worker stops reading (the kernel then drops, and counts, what comes). */
const MAX_PENDING_BYTES = 32 * 1024 * 1024;
/** How often a paused worker looks again. */
const PAUSE_MS = 1;

const { hostname, port: bindPort, path, sab } = workerData;
/** [0]: bytes posted and not yet taken by the receiver's thread;
 * [1]: datagrams node:dgram read while paused, dropped here. */
const pending = new Int32Array(sab);
const port = parentPort;

let closed = false;
/** @type {Uint8Array | null} */
let batch = null;
let view = null;
let used = 0;
/** @type {string[]} */
let hosts = [];
/** @type {Map<string, number>} */
let hostIndex = new Map();
let flushScheduled = false;

function errorOf(e) {
  return e instanceof Error
    ? { name: e.name, message: e.message, code: e.code }
    : { name: "Error", message: String(e) };
}

function flush() {
  flushScheduled = false;
  if (batch === null || used === 0) return;
  const buf = batch.buffer;
  Atomics.add(pending, 0, used);
  port.postMessage({ t: "batch", buf, used, hosts }, [buf]);
  batch = null;
  used = 0;
  hosts = [];
  hostIndex = new Map();
}

function add(data, host, from) {
  const need = HEADER_BYTES + data.length;
  if (batch !== null && used + need > batch.length) flush();
  if (batch === null) {
    batch = new Uint8Array(Math.max(BATCH_BYTES, need));
    view = new DataView(batch.buffer);
  }
  let h = hostIndex.get(host);
  if (h === undefined) {
    h = hosts.length;
    hosts.push(host);
    hostIndex.set(host, h);
  }
  view.setUint32(used, data.length);
  view.setUint16(used + 4, from);
  view.setUint16(used + 6, h);
  batch.set(data, used + HEADER_BYTES);
  used += need;
  if (!flushScheduled) {
    flushScheduled = true;
    setTimeout(flush, 0);
  }
}

function paused() {
  return Atomics.load(pending, 0) > MAX_PENDING_BYTES;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function runDeno() {
  const sock = Deno.listenDatagram({
    transport: "udp",
    hostname,
    port: bindPort,
  });
  const loops = [];
  for (let i = 0; i < RECEIVES_IN_FLIGHT; i++) {
    loops.push((async () => {
      const buf = new Uint8Array(MAX_DATAGRAM);
      while (!closed) {
        while (paused() && !closed) await sleep(PAUSE_MS);
        let data;
        let from;
        try {
          [data, from] = await sock.receive(buf);
        } catch (error) {
          if (closed || error instanceof Deno.errors.BadResource) return;
          continue; // e.g. ICMP-reported errors: keep receiving
        }
        add(data, from.hostname, from.port);
      }
    })());
  }
  return {
    addr: sock.addr,
    path: "listenDatagram",
    async close() {
      closed = true;
      try {
        sock.close();
      } catch {
        // closed
      }
      await Promise.allSettled(loops);
    },
  };
}

function runNode() {
  const sock = dgram.createSocket({
    type: hostname.includes(":") ? "udp6" : "udp4",
  });
  sock.on("message", (msg, rinfo) => {
    // node:dgram cannot stop reading: over the cap, drop and count.
    if (paused()) Atomics.add(pending, 1, 1);
    else add(msg, rinfo.address, rinfo.port);
  });
  return new Promise((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(bindPort, hostname, () => {
      sock.off("error", reject);
      sock.on("error", () => {});
      const a = sock.address();
      resolve({
        addr: { transport: "udp", hostname: a.address, port: a.port },
        path: "node:dgram",
        close() {
          closed = true;
          return new Promise((done) => {
            try {
              sock.close(() => done());
            } catch {
              done();
            }
          });
        },
      });
    });
  });
}

let socket = null;
port.on("message", async (m) => {
  if (m.t !== "close" || socket === null) return;
  await socket.close();
  flush();
  port.postMessage({ t: "closed" });
});

try {
  socket = path !== "node:dgram" && typeof Deno.listenDatagram === "function"
    ? await runDeno()
    : await runNode();
  port.postMessage({
    t: "bound",
    path: socket.path,
    hostname: socket.addr.hostname,
    port: socket.addr.port,
  });
} catch (error) {
  port.postMessage({ t: "error", error: errorOf(error) });
}
