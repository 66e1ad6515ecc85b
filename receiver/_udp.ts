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
// listenDatagram has no such option, so draining fast is the lever.

import dgram from "node:dgram";

/** Receives kept in flight on a `Deno.listenDatagram` socket. */
const RECEIVES_IN_FLIGHT = 8;
/** Largest UDP payload. */
const MAX_DATAGRAM = 65_536;
/** The kernel's drop count is read at most this often. */
const DROPS_READ_INTERVAL_MS = 100;

/** Which receive path a UDP receiver uses. */
export type UdpPath = "listenDatagram" | "node:dgram";

/** A bound UDP socket feeding `onDatagram`. */
export interface UdpSocket {
  readonly addr: Deno.NetAddr;
  readonly path: UdpPath;
  /** Datagrams the kernel dropped for this socket (its receive buffer was full), or null where unknown. */
  kernelDrops(): number | null;
  /** Keeps the program alive while the consumer waits (node:dgram only). */
  ref(): void;
  /** Lets the program end while nobody waits (node:dgram only). */
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
 * @returns The socket.
 * @throws {TypeError} when `path` is "listenDatagram" and it is not available.
 */
export async function bindUdp(
  hostname: string,
  port: number,
  onDatagram: (data: Uint8Array, from: Deno.NetAddr) => void,
  path?: UdpPath,
): Promise<UdpSocket> {
  const listenDatagram =
    (Deno as unknown as { listenDatagram?: ListenDatagram })
      .listenDatagram;
  if (path !== "node:dgram" && typeof listenDatagram === "function") {
    return bindDeno(listenDatagram, hostname, port, onDatagram);
  }
  if (path === "listenDatagram") {
    throw new TypeError(
      'udpPath "listenDatagram" needs Deno.listenDatagram: run with --unstable-net',
    );
  }
  return await bindNode(hostname, port, onDatagram);
}

function bindDeno(
  listenDatagram: ListenDatagram,
  hostname: string,
  port: number,
  onDatagram: (data: Uint8Array, from: Deno.NetAddr) => void,
): UdpSocket {
  const sock = listenDatagram({ transport: "udp", hostname, port });
  const addr = sock.addr as Deno.NetAddr;
  let closed = false;
  const loops: Promise<void>[] = [];
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
  const drops = kernelDropsReader(addr);
  return {
    addr: { transport: "udp", hostname: addr.hostname, port: addr.port },
    path: "listenDatagram",
    kernelDrops: drops,
    ref() {},
    unref() {},
    async close() {
      if (closed) return;
      drops(true);
      closed = true;
      try {
        sock.close();
      } catch {
        // already closed
      }
      await Promise.allSettled(loops);
    },
  };
}

function bindNode(
  hostname: string,
  port: number,
  onDatagram: (data: Uint8Array, from: Deno.NetAddr) => void,
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
      const drops = kernelDropsReader(addr);
      let closed = false;
      sock.unref(); // like a Deno listener: only a pending read holds the program
      resolve({
        addr,
        path: "node:dgram",
        kernelDrops: drops,
        ref: () => sock.ref(),
        unref: () => sock.unref(),
        close() {
          if (closed) return Promise.resolve();
          drops(true);
          closed = true;
          return new Promise<void>((done) => {
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

/**
 * A reader of the kernel's drop count for the UDP socket bound to `addr`
 * (Linux: the `drops` column of /proc/net/udp or udp6, matched by local
 * address and port), read at most every DROPS_READ_INTERVAL_MS and kept
 * after the socket closes. Null where not readable (other systems, no
 * read permission for /proc/net).
 */
function kernelDropsReader(
  addr: Deno.NetAddr,
): (final?: boolean) => number | null {
  const file = addr.hostname.includes(":") ? "/proc/net/udp6" : "/proc/net/udp";
  let readable = false;
  try {
    readable = Deno.build.os === "linux" &&
      Deno.permissions.querySync({ name: "read", path: file }).state ===
        "granted";
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
