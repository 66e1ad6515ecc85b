// A frame-counting sink for bench/compare.ts, run as its own process:
//   deno run --allow-net bench/_compare/sink.ts --proto pickle|lines
//     [--port P] [--expect N] [--stall-ms MS]
// Prints "PORT n". Counts records (length-prefixed pickles, or
// newline-delimited lines for JSON and syslog) and bytes on every
// connection, and reads each record's `seq` (in a pickle the key `seq` and
// the int after it; in text the digits after `seq`). With --stall-ms it
// stops reading for that long once half of --expect records arrived.
// Commands on stdin: "REPORT" prints the counts as one JSON line (seen
// sequence numbers as ranges); "STOP" closes every connection, reports and
// exits (a receiver that goes away: what the kernel held is lost).
const args = Deno.args;
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const proto = opt("--proto", "pickle");
const stallMs = Number(opt("--stall-ms", "0"));
const expect = Number(opt("--expect", "0"));

const now = () => performance.timeOrigin + performance.now();
const listener = Deno.listen({
  hostname: "127.0.0.1",
  port: Number(opt("--port", "0")),
});
console.log(`PORT ${(listener.addr as Deno.NetAddr).port}`);

let frames = 0;
let bytes = 0;
let first = 0;
let last = 0;
const seen = new Map<number, number>();
let stalled = false;
let stalledOnce = false;
const conns = new Set<Deno.Conn>();

function seqOf(rec: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end - 4; i++) {
    if (rec[i] !== 0x73 || rec[i + 1] !== 0x65 || rec[i + 2] !== 0x71) continue;
    let j = i + 3;
    if (proto === "pickle") {
      if (rec[j] === 0x71) j += 2; // BINPUT after the key
      if (rec[j] === 0x4b) return rec[j + 1];
      if (rec[j] === 0x4d) return rec[j + 1] | (rec[j + 2] << 8);
      if (rec[j] === 0x4a) {
        return rec[j + 1] | (rec[j + 2] << 8) | (rec[j + 3] << 16) |
          (rec[j + 4] << 24);
      }
      continue;
    }
    while (j < end && j - i < 6 && (rec[j] < 0x30 || rec[j] > 0x39)) j++;
    let n = 0;
    let digits = 0;
    while (j < end && rec[j] >= 0x30 && rec[j] <= 0x39) {
      n = n * 10 + rec[j] - 0x30;
      j++;
      digits++;
    }
    if (digits > 0) return n;
  }
  return -1;
}

function count(buf: Uint8Array, start: number, end: number) {
  frames++;
  const s = seqOf(buf, start, end);
  if (s >= 0) seen.set(s, (seen.get(s) ?? 0) + 1);
  if (stallMs > 0 && expect > 0 && frames >= expect / 2 && !stalledOnce) {
    stalledOnce = true;
    stalled = true;
    setTimeout(() => stalled = false, stallMs);
  }
}

async function serve(conn: Deno.Conn) {
  conns.add(conn);
  let buf = new Uint8Array(1 << 20);
  let start = 0;
  let end = 0;
  try {
    while (true) {
      while (stalled) await new Promise((r) => setTimeout(r, 5));
      if (buf.length - end < 65536) {
        const keep = end - start;
        const nb = keep + 65536 > buf.length
          ? new Uint8Array((keep + 65536) * 2)
          : buf;
        if (nb === buf) buf.copyWithin(0, start, end);
        else nb.set(buf.subarray(start, end));
        buf = nb;
        start = 0;
        end = keep;
      }
      const n = await conn.read(buf.subarray(end));
      if (n === null) break;
      const t = now();
      if (first === 0) first = t;
      last = t;
      bytes += n;
      end += n;
      if (proto === "pickle") {
        while (end - start >= 4) {
          const len = ((buf[start] << 24) | (buf[start + 1] << 16) |
            (buf[start + 2] << 8) | buf[start + 3]) >>> 0;
          if (end - start - 4 < len) break;
          count(buf, start + 4, start + 4 + len);
          start += 4 + len;
        }
      } else {
        while (true) {
          const nl = buf.subarray(start, end).indexOf(0x0a);
          if (nl < 0) break;
          if (nl > 0) count(buf, start, start + nl);
          start += nl + 1;
        }
      }
      if (start === end) start = end = 0;
    }
  } catch {
    // reset by the sender, or closed by STOP
  }
  conns.delete(conn);
  try {
    conn.close();
  } catch {
    // closed
  }
}

(async () => {
  try {
    for await (const conn of listener) serve(conn);
  } catch {
    // closed by STOP
  }
})();

function report(): string {
  const keys = [...seen.keys()].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  let dups = 0;
  for (const k of keys) {
    dups += seen.get(k)! - 1;
    const r = ranges[ranges.length - 1];
    if (r && r[1] === k - 1) r[1] = k;
    else ranges.push([k, k]);
  }
  return JSON.stringify({
    frames,
    bytes,
    first,
    last,
    seqs: keys.length,
    dups,
    ranges,
  });
}

for await (
  const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
) {
  for (const cmd of chunk.split("\n").map((c) => c.trim())) {
    if (cmd === "REPORT") console.log(report());
    if (cmd === "STOP") {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      console.log(report());
      Deno.exit(0);
    }
  }
}
