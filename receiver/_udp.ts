// Copyright the pysocklog authors. MIT license.
// The UDP side of the receiver: Deno.listenDatagram where it exists (it
// needs --unstable-net), else node:dgram; and the kernel's own drop count
// for the socket, where Linux shows it.
//
// Measured on loopback, 2 contended cores, 100,000 CPython datagrams at
// 50,000/s, no decoding: node:dgram received 78%; listenDatagram with one
// receive() at a time and a fresh buffer each 53%; with its own buffer 94%;
// with RECEIVES_IN_FLIGHT receives in flight 99%. Neither path can raise the
// socket buffer (208 KiB here): node:dgram ignores recvBufferSize and
// listenDatagram has no such option, so draining fast is the lever. The
// socket therefore lives in a Worker (_udp_worker.js) whose event loop does
// nothing else, where one can be made; the receiver's thread gets batches.

import dgram from "node:dgram";
import { setImmediate } from "node:timers";
import { Worker } from "node:worker_threads";

/** Receives kept in flight on a `Deno.listenDatagram` socket. */
const RECEIVES_IN_FLIGHT = 8;
/** Largest UDP payload. */
const MAX_DATAGRAM = 65_536;
/** The kernel's drop count is read at most this often. */
const DROPS_READ_INTERVAL_MS = 100;

/** Bytes of a datagram's header in a worker's batch (see _udp_worker.js). */
const HEADER_BYTES = 8;
/** Slots of the array shared with the worker: bytes posted and not yet
 * taken, datagrams the worker dropped. */
const SHARED_SLOTS = 2;

/** Receive buffer asked for through FFI (Linux doubles it for its
 * bookkeeping, and caps it at net.core.rmem_max unless the process has
 * CAP_NET_ADMIN). 8 MiB granted holds about 330 ms of 50,000/s
 * (the default 208 KiB: 424 datagrams of ~360 bytes, 8.5 ms). */
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;
/** close() waits at most this long for the receive buffer to empty. */
const CLOSE_DRAIN_MS = 1_000;
/** How often close() looks at the receive buffer while it waits. */
const DRAIN_POLL_MS = 5;
/** File descriptors searched for the bound socket. */
const MAX_FD_SEARCHED = 65_536;

/** Which receive path a UDP receiver uses. */
export type UdpPath = "listenDatagram" | "node:dgram";

/** A bound UDP socket feeding `onDatagram`. */
export interface UdpSocket {
  readonly addr: Deno.NetAddr;
  readonly path: UdpPath;
  /** Whether the socket lives in a Worker. */
  readonly worker: boolean;
  /** The socket's receive buffer in bytes, where FFI could read it (and raise it); else null. */
  readonly recvBuffer: number | null;
  /** Datagrams the kernel dropped for this socket (its receive buffer was full), or null where unknown. */
  kernelDrops(): number | null;
  /** Datagrams dropped before reaching `onDatagram` (the worker's hand-over was full). */
  dropped(): number;
  /** Keeps the program alive while the consumer waits. */
  ref(): void;
  /** Lets the program end while nobody waits (node:dgram's unref() does
   * not, in Deno 2.9.6). */
  unref(): void;
  close(): Promise<void>;
}

type ListenDatagram = (options: {
  transport: "udp";
  hostname: string;
  port: number;
}) => {
  receive(p?: Uint8Array): Promise<[Uint8Array, Deno.Addr]>;
  close(): void;
  /** Pending receives hold the program (the default) or not. */
  ref(): void;
  unref(): void;
  readonly addr: Deno.Addr;
};

/**
 * Binds a UDP socket on `hostname`:`port` and calls `onDatagram` for each
 * datagram (a view valid only during the call).
 *
 * @param hostname Address to bind.
 * @param port Port to bind; 0 picks one.
 * @param onDatagram Called for each datagram.
 * @param path Force a receive path (default: listenDatagram when usable).
 * @param worker Receive in a Worker (default: when one can be made).
 * @param tune Raise the receive buffer and read the kernel's drop count
 * through FFI (default: where --allow-ffi is granted, on Linux).
 * @returns The socket.
 * @throws {TypeError} when `path` is "listenDatagram" and it is not available.
 */
export async function bindUdp(
  hostname: string,
  port: number,
  onDatagram: (data: Uint8Array, from: Deno.NetAddr) => void,
  path?: UdpPath,
  worker: boolean = canUseUdpWorker(),
  tune: boolean = canTuneUdp(),
): Promise<UdpSocket> {
  const listenDatagram =
    (Deno as unknown as { listenDatagram?: ListenDatagram })
      .listenDatagram;
  if (path === "listenDatagram" && typeof listenDatagram !== "function") {
    throw new TypeError(
      'udpPath "listenDatagram" needs Deno.listenDatagram: run with --unstable-net',
    );
  }
  if (worker) return await bindWorker(hostname, port, onDatagram, path, tune);
  if (path !== "node:dgram" && typeof listenDatagram === "function") {
    return bindDeno(listenDatagram, hostname, port, onDatagram, tune);
  }
  if (path === "listenDatagram") {
    throw new TypeError(
      'udpPath "listenDatagram" needs Deno.listenDatagram: run with --unstable-net',
    );
  }
  return await bindNode(hostname, port, onDatagram, tune);
}

function bindDeno(
  listenDatagram: ListenDatagram,
  hostname: string,
  port: number,
  onDatagram: (data: Uint8Array, from: Deno.NetAddr) => void,
  tune: boolean,
): UdpSocket {
  const sock = listenDatagram({ transport: "udp", hostname, port });
  let closed = false;
  // Like a Deno listener: the receives in flight hold the program only
  // while someone iterates the receiver (it calls ref()).
  sock.unref();
  const loops: Promise<void>[] = [];
  const socket = boundSocket(sock.addr as Deno.NetAddr, tune, {
    path: "listenDatagram",
    worker: false,
    dropped: () => 0,
    ref: () => sock.ref(),
    unref: () => sock.unref(),
    async closeSocket() {
      closed = true;
      try {
        sock.close();
      } catch {
        // already closed
      }
      await Promise.allSettled(loops);
    },
  });
  for (let i = 0; i < RECEIVES_IN_FLIGHT; i++) {
    loops.push((async () => {
      const buf = new Uint8Array(MAX_DATAGRAM);
      while (!closed) {
        let data: Uint8Array;
        let from: Deno.Addr;
        try {
          [data, from] = await sock.receive(buf);
        } catch (error) {
          if (closed || error instanceof Deno.errors.BadResource) return;
          continue; // e.g. ICMP-reported errors: keep receiving
        }
        onDatagram(data, from as Deno.NetAddr);
      }
    })());
  }
  return socket;
}

function bindNode(
  hostname: string,
  port: number,
  onDatagram: (data: Uint8Array, from: Deno.NetAddr) => void,
  tune: boolean,
): Promise<UdpSocket> {
  const sock = dgram.createSocket({
    type: hostname.includes(":") ? "udp6" : "udp4",
  });
  sock.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
    onDatagram(msg, {
      transport: "udp",
      hostname: rinfo.address,
      port: rinfo.port,
    });
  });
  return new Promise((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(port, hostname, () => {
      sock.off("error", reject);
      sock.on("error", () => {});
      const a = sock.address();
      const addr: Deno.NetAddr = {
        transport: "udp",
        hostname: a.address,
        port: a.port,
      };
      sock.unref(); // like a Deno listener: only a pending read holds the program
      resolve(boundSocket(addr, tune, {
        path: "node:dgram",
        worker: false,
        dropped: () => 0,
        ref: () => sock.ref(),
        unref: () => sock.unref(),
        closeSocket: () =>
          new Promise<void>((done) => {
            try {
              sock.close(() => done());
            } catch {
              done();
            }
          }),
      }));
    });
  });
}

/** What a receive path gives {@linkcode boundSocket}. */
type PathParts =
  & Pick<UdpSocket, "path" | "worker" | "dropped" | "ref" | "unref">
  & {
    /** Closes the socket itself, once its receive buffer was drained. */
    closeSocket(): Promise<void>;
  };

/**
 * The UdpSocket of a socket bound at `addr`, whatever its path: its receive
 * buffer raised where `tune` asks and FFI can, the kernel's drops read, and
 * close() (once) draining the buffer and counting the kernel's last drops
 * before the path closes the socket.
 */
function boundSocket(
  addr: Deno.NetAddr,
  tune: boolean,
  parts: PathParts,
): UdpSocket {
  const tuning = tune ? tuneUdp(addr) : null;
  const drops = kernelDropsReader(addr, tuning);
  let closing: Promise<void> | null = null;
  return {
    addr: { transport: "udp", hostname: addr.hostname, port: addr.port },
    path: parts.path,
    worker: parts.worker,
    recvBuffer: tuning?.recvBuffer ?? null,
    kernelDrops: drops,
    dropped: parts.dropped,
    ref: parts.ref,
    unref: parts.unref,
    close() {
      return closing ??= (async () => {
        await drain(tuning);
        drops(true);
        await parts.closeSocket();
      })();
    },
  };
}

const WORKER_URL = new URL("./_udp_worker.js", import.meta.url);

/**
 * Whether a receive worker can be made here without asking: the module is a
 * local file this program may read (Deno's `node:worker_threads` checks
 * `--allow-read` for it) and `SharedArrayBuffer` exists.
 */
export function canUseUdpWorker(): boolean {
  try {
    if (WORKER_URL.protocol !== "file:") return false;
    if (typeof SharedArrayBuffer !== "function") return false;
    return Deno.permissions.querySync({ name: "read", path: WORKER_URL })
      .state === "granted";
  } catch {
    return false;
  }
}

/** Messages from the worker. */
type FromWorker =
  | { t: "bound"; path: UdpPath; hostname: string; port: number }
  | { t: "error"; error: { name: string; message: string; code?: string } }
  | { t: "batch"; buf: ArrayBuffer; used: number; hosts: string[] }
  | { t: "closed" };

function toError(e: { name: string; message: string; code?: string }): Error {
  const Class = (Deno.errors as unknown as Record<string, ErrorConstructor>)[
    e.name
  ];
  const error = typeof Class === "function"
    ? new Class(e.message)
    : new Error(e.message);
  if (typeof Class !== "function") error.name = e.name;
  if (e.code !== undefined) (error as { code?: string }).code = e.code;
  return error;
}

function bindWorker(
  hostname: string,
  port: number,
  onDatagram: (data: Uint8Array, from: Deno.NetAddr) => void,
  path: UdpPath | undefined,
  tune: boolean,
): Promise<UdpSocket> {
  const sab = new SharedArrayBuffer(SHARED_SLOTS * 4);
  const shared = new Int32Array(sab);
  const worker = new Worker(WORKER_URL, {
    workerData: { hostname, port, path, sab },
  });
  // Referenced while binding and closing (something awaits it); else only
  // while a consumer waits, like a Deno listener.
  let onClosed = () => {};
  return new Promise((resolve, reject) => {
    worker.on("error", (e: unknown) => {
      reject(e instanceof Error ? e : new Error(String(e)));
      worker.unref();
      onClosed();
    });
    // Batches are taken one per macrotask (setImmediate), not in the
    // message handler: Deno dispatches queued messages from promise
    // continuations, so a backlog of batches ran with the consumer's
    // microtasks only in between, one record per batch of ~700, and
    // maxBufferedRecords overflowed while the consumer sat idle.
    const batches: Extract<FromWorker, { t: "batch" }>[] = [];
    let taking = false;
    const take = () => {
      if (batches.length === 0) {
        taking = false;
        return;
      }
      setImmediate(take);
      takeOne();
    };
    const takeOne = () => {
      const m = batches.shift()!;
      const bytes = new Uint8Array(m.buf, 0, m.used);
      const view = new DataView(m.buf);
      for (let at = 0; at < m.used;) {
        const n = view.getUint32(at);
        const addr: Deno.NetAddr = {
          transport: "udp",
          hostname: m.hosts[view.getUint16(at + 6)],
          port: view.getUint16(at + 4),
        };
        const start = at + HEADER_BYTES;
        at = start + n;
        try {
          onDatagram(bytes.subarray(start, at), addr);
        } catch {
          // the receiver's own errors are its to report
        }
      }
      Atomics.sub(shared, 0, m.used);
    };
    worker.on("message", (m: FromWorker) => {
      if (m.t === "batch") {
        batches.push(m);
        if (!taking) {
          taking = true;
          setImmediate(take);
        }
      } else if (m.t === "bound") {
        const addr: Deno.NetAddr = {
          transport: "udp",
          hostname: m.hostname,
          port: m.port,
        };
        worker.unref();
        resolve(boundSocket(addr, tune, {
          path: m.path,
          worker: true,
          dropped: () => Atomics.load(shared, 1),
          ref: () => worker.ref(),
          unref: () => worker.unref(),
          closeSocket: () =>
            new Promise<void>((done) => {
              onClosed = () => {
                void worker.terminate();
                done();
              };
              worker.ref();
              worker.postMessage({ t: "close" });
            }),
        }));
      } else if (m.t === "error") {
        reject(toError(m.error));
        worker.unref();
        void worker.terminate();
      } else if (m.t === "closed") {
        while (batches.length > 0) takeOne(); // before close() resolves
        onClosed();
      }
    });
  });
}

/**
 * A reader of the kernel's drop count for the UDP socket bound to `addr`,
 * kept after the socket closes: through FFI where the socket was tuned, else
 * the `drops` column of /proc/net/udp or udp6 (matched by local address and
 * port; read at most every DROPS_READ_INTERVAL_MS). Null where neither is
 * readable: other systems; Deno 2 reads /proc/net only under --allow-all,
 * whatever --allow-read grants (it throws NotCapable), so a read is tried.
 */
function kernelDropsReader(
  addr: Deno.NetAddr,
  tuning: UdpTuning | null,
): (final?: boolean) => number | null {
  if (tuning !== null) {
    let count = 0;
    let closed = false;
    return (final = false) => {
      if (closed) return count;
      if (final) closed = true; // the descriptor may be reused after close
      return count = tuning.drops();
    };
  }
  const file = addr.hostname.includes(":") ? "/proc/net/udp6" : "/proc/net/udp";
  let readable = false;
  try {
    readable = Deno.build.os === "linux" &&
      Deno.permissions.querySync({ name: "read", path: file }).state ===
        "granted";
    if (readable) Deno.readTextFileSync(file);
  } catch {
    readable = false;
  }
  if (!readable) return () => null;
  const local = procAddr(addr);
  let last = 0;
  let lastRead = -Infinity;
  let done = false;
  return (final = false) => {
    if (done) return last;
    const now = performance.now();
    if (!final && now - lastRead < DROPS_READ_INTERVAL_MS) return last;
    lastRead = now;
    if (final) done = true;
    try {
      const text = Deno.readTextFileSync(file);
      for (const line of text.split("\n")) {
        const cols = line.trim().split(/\s+/);
        if (cols[1] === local) {
          last = Number(cols[cols.length - 1]) || 0;
          break;
        }
      }
    } catch {
      // unreadable now: keep the last count
    }
    return last;
  };
}

/** `addr` as /proc/net/udp writes a local address: `0100007F:2335`. */
function procAddr(addr: Deno.NetAddr): string {
  const port = addr.port.toString(16).toUpperCase().padStart(4, "0");
  if (!addr.hostname.includes(":")) {
    const ip = addr.hostname.split(".").map(Number);
    // Little-endian on the usual machines: 127.0.0.1 -> 0100007F.
    const hex = [ip[3], ip[2], ip[1], ip[0]].map((b) =>
      b.toString(16).toUpperCase().padStart(2, "0")
    ).join("");
    return `${hex}:${port}`;
  }
  // IPv6: four 32-bit words, each little-endian.
  const words = expandV6(addr.hostname);
  let hex = "";
  for (let w = 0; w < 4; w++) {
    const b = [
      words[2 * w] >> 8,
      words[2 * w] & 255,
      words[2 * w + 1] >> 8,
      words[2 * w + 1] & 255,
    ];
    hex += [b[3], b[2], b[1], b[0]].map((x) =>
      x.toString(16).toUpperCase().padStart(2, "0")
    ).join("");
  }
  return `${hex}:${port}`;
}

function expandV6(host: string): number[] {
  const [head, tail = ""] = host.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === "" ? [] : tail.split(":");
  const fill = host.includes("::") ? 8 - h.length - t.length : 0;
  return [...h, ...Array(fill).fill("0"), ...t].map((x) => parseInt(x, 16));
}

// Linux socket options through FFI (--allow-ffi): neither Deno.listenDatagram
// nor node:dgram sets SO_RCVBUF, and /proc/net/udp needs --allow-all under
// Deno 2. The socket is found among the process's descriptors by its bound
// address (getsockname), whichever thread owns it.

const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SO_MEMINFO = 55;
const SK_MEMINFO_VARS = 9;
const SK_MEMINFO_DROPS = 8;
const SK_MEMINFO_RMEM_ALLOC = 0;
const SOCK_DGRAM = 2;
const AF_INET = 2;
const AF_INET6 = 10;

const LIBC_SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
} as const;

let libc:
  | Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"]
  | null
  | undefined;

/** libc's socket calls, where FFI is granted (never asked) on Linux. */
function socketCalls(): typeof libc {
  if (libc !== undefined) return libc;
  libc = null;
  try {
    if (
      Deno.build.os === "linux" &&
      typeof Deno.dlopen === "function" &&
      Deno.permissions.querySync({ name: "ffi" }).state === "granted"
    ) {
      libc = Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
    }
  } catch {
    libc = null;
  }
  return libc;
}

/** Whether the receive buffer can be set and the drops read through FFI. */
export function canTuneUdp(): boolean {
  return socketCalls() !== null;
}

/** A bound UDP socket's descriptor, tuned through FFI. */
export interface UdpTuning {
  /** The receive buffer the kernel granted, in bytes. */
  readonly recvBuffer: number;
  /** The kernel's drop count for the socket (SO_MEMINFO). */
  drops(): number;
  /** Bytes waiting in the socket's receive buffer (SO_MEMINFO). */
  queued(): number;
}

/**
 * Waits, at most CLOSE_DRAIN_MS, until the socket's receive buffer is empty:
 * with a raised buffer, up to 8 MiB (~16,000 datagrams) can wait there at
 * close, which closing would discard uncounted. Only where FFI tells.
 */
async function drain(tuning: UdpTuning | null): Promise<void> {
  if (tuning === null) return;
  const end = performance.now() + CLOSE_DRAIN_MS;
  while (tuning.queued() > 0 && performance.now() < end) {
    await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
  }
}

/**
 * Finds the UDP socket bound to `addr` among this process's descriptors and
 * asks for a `bytes` receive buffer. Null where FFI is not granted, not
 * Linux, or no descriptor matches.
 */
export function tuneUdp(
  addr: Deno.NetAddr,
  bytes: number = RECV_BUFFER_BYTES,
): UdpTuning | null {
  const c = socketCalls();
  if (!c) return null;
  const want = sockaddrOf(addr);
  const got = new Uint8Array(128);
  const len = new Uint32Array(1);
  const int = new Int32Array(1);
  const intLen = new Uint32Array(1);
  let fd = -1;
  for (let i = 0; i < MAX_FD_SEARCHED && fd < 0; i++) {
    len[0] = got.length;
    if (c.getsockname(i, got, len) !== 0 || len[0] < want.length) continue;
    let same = true;
    for (let k = 0; k < want.length && same; k++) {
      // IPv6: skip sin6_flowinfo (bytes 4-7).
      if (want[0] === AF_INET6 && k >= 4 && k < 8) continue;
      same = got[k] === want[k];
    }
    if (!same) continue;
    intLen[0] = 4;
    if (
      c.getsockopt(i, SOL_SOCKET, SO_TYPE, int, intLen) === 0 &&
      int[0] === SOCK_DGRAM
    ) fd = i;
  }
  if (fd < 0) return null;
  int[0] = bytes;
  // As rsyslog's imudp and journald: past net.core.rmem_max where the
  // process may (CAP_NET_ADMIN), else up to it.
  if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, int, 4) !== 0) {
    c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, int, 4);
  }
  intLen[0] = 4;
  c.getsockopt(fd, SOL_SOCKET, SO_RCVBUF, int, intLen);
  const recvBuffer = int[0];
  const info = new Uint32Array(SK_MEMINFO_VARS);
  const infoLen = new Uint32Array(1);
  return {
    recvBuffer,
    drops() {
      infoLen[0] = info.byteLength;
      return c.getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, infoLen) === 0
        ? info[SK_MEMINFO_DROPS]
        : 0;
    },
    queued() {
      infoLen[0] = info.byteLength;
      return c.getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, infoLen) === 0
        ? info[SK_MEMINFO_RMEM_ALLOC]
        : 0;
    },
  };
}

/** The leading bytes of `addr` as a Linux sockaddr_in or sockaddr_in6. */
function sockaddrOf(addr: Deno.NetAddr): Uint8Array {
  const v6 = addr.hostname.includes(":");
  const b = new Uint8Array(v6 ? 24 : 8);
  b[0] = v6 ? AF_INET6 : AF_INET; // sa_family, little-endian u16
  b[2] = addr.port >> 8;
  b[3] = addr.port & 255;
  if (!v6) {
    addr.hostname.split(".").forEach((x, i) => b[4 + i] = Number(x));
  } else {
    expandV6(addr.hostname).forEach((w, i) => {
      b[8 + 2 * i] = w >> 8;
      b[9 + 2 * i] = w & 255;
    });
  }
  return b;
}
