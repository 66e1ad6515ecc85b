// Copyright the pysocklog authors. MIT license.
// A growable byte buffer with the primitive writes the pickle encoder needs.

/**
 * Size of the slab results are cut from. Deno allocates every typed array
 * off-heap (about 300 ns each, whatever its size), so results are views
 * (`subarray`, about 20 ns) into a shared slab instead of fresh copies.
 */
const SLAB_SIZE = 64 * 1024;
/** A result larger than this gets a slab of its own. */
const LARGE_RESULT = SLAB_SIZE / 4;
/** Most free slabs kept for reuse (2 MiB). */
const MAX_POOLED = 32;

// ---- Slabs reused once their frames are written -----------------------------
//
// A handler queues frames where the encoder wrote them (writeFrame and its
// sink): a slab's bytes stay in use until its frames were written. Each
// 64 KiB slab was a new ArrayBuffer (one per ~100 records), freed by V8 when
// it got round to it; here a slab goes back to a pool once the writer has
// moved past it and every frame kept in it was released by the queue that
// held it. A slab a view was handed out of (take: makePickle, dumps) is
// never reused: such views stay valid for good.

/** Free slabs of SLAB_SIZE bytes. */
const pool: Uint8Array[] = [];
/**
 * By slab: frames kept in it and not yet released, once the writer moved
 * past it (> 0); while it is still written, minus the frames released so
 * far (<= 0). A WeakMap: a slab never reused is left to the GC.
 */
const outstanding = new WeakMap<Uint8Array, number>();

/** Slabs made and slabs reused, since the module loaded (for tests and benchmarks). */
export const slabCounts = { made: 0, reused: 0 };

/** A slab of SLAB_SIZE bytes: a reused one when there is one. */
function newSlab(): Uint8Array {
  const slab = pool.pop();
  if (slab !== undefined) {
    slabCounts.reused++;
    return slab;
  }
  slabCounts.made++;
  return new Uint8Array(SLAB_SIZE);
}

/**
 * `n` frames kept in `buf` (by {@linkcode Writer.commit}) will not be read
 * again: once all of a slab's are, it is reused. The handlers' queue calls
 * this when frames were written (or copied into the I/O worker's ring) or
 * dropped; for buffers that are not slabs it does nothing of note.
 */
export function releaseFrames(buf: Uint8Array, n: number): void {
  const held = outstanding.get(buf);
  if (held === undefined || held <= 0) {
    // Still being written (or not a slab, or one never reused).
    outstanding.set(buf, (held ?? 0) - n);
    return;
  }
  const left = held - n;
  if (left > 0) {
    outstanding.set(buf, left);
  } else {
    // More released than kept would be a bug: then never reuse it.
    outstanding.set(buf, left === 0 ? 0 : -Infinity);
    if (left === 0 && pool.length < MAX_POOLED) pool.push(buf);
  }
}

/** Strings at most this long are encoded by hand; longer ones by TextEncoder. */
const SHORT_STRING = 64;
/** Bytes one UTF-16 code unit can take in UTF-8 (surrogatepass included). */
const MAX_UTF8_PER_UNIT = 3;

const textEncoder = new TextEncoder();

/**
 * Whether a long string looks like text of 3-byte characters (CJK): two of
 * three samples are. Deno's encodeInto copies ASCII at ~0.03 ns a
 * character but encodes such text at ~2.3 ns, where utf8At takes ~1.8.
 */
function isWide(s: string): boolean {
  const n = s.length;
  const wide = (s.charCodeAt(0) >= 0x800 ? 1 : 0) +
    (s.charCodeAt(n >> 1) >= 0x800 ? 1 : 0) +
    (s.charCodeAt(n - 1) >= 0x800 ? 1 : 0);
  return wide >= 2;
}

// ---- Bytes kept by string ---------------------------------------------------

/** Bytes of a {@linkcode BytesCache}'s arena. */
const CACHE_ARENA_BYTES = 256 * 1024;
/** A {@linkcode BytesCache} keeps runs shorter than this. */
const KEPT_LENGTH_BITS = 11;
const MAX_KEPT_BYTES = 1 << KEPT_LENGTH_BITS;
/** Most keys a {@linkcode BytesCache} keeps. */
const MAX_KEPT = 8192;

/**
 * Runs of bytes kept by a string key, for strings that repeat from pickle
 * to pickle (logger names, paths, dict keys): one arena holds the bytes end
 * to end and a Map holds each key's place and length as one small integer,
 * so an entry allocates nothing of its own. A full arena or Map starts over.
 */
export class BytesCache {
  /** Place (times 2^11) plus length of each kept key's bytes. */
  readonly #kept = new Map<string, number>();
  readonly #arena = new Uint8Array(CACHE_ARENA_BYTES);
  readonly #arenaView = new DataView(this.#arena.buffer);
  #used = 0;

  /** Copies the bytes kept for `key` to `w`; returns false when none are. */
  copy(w: Writer, key: string): boolean {
    const entry = this.#kept.get(key);
    if (entry === undefined) return false;
    const n = entry & (MAX_KEPT_BYTES - 1);
    w.ensure(n);
    w.pos = copyRun(
      w.buf,
      w.view,
      w.pos,
      this.#arena,
      this.#arenaView,
      entry >>> KEPT_LENGTH_BITS,
      n,
    );
    return true;
  }

  /** Keeps `buf[from, to)` for `key` (not when longer than it keeps). */
  keep(key: string, buf: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n >= MAX_KEPT_BYTES) return;
    if (this.#used + n > CACHE_ARENA_BYTES || this.#kept.size >= MAX_KEPT) {
      this.#kept.clear();
      this.#used = 0;
    }
    const arena = this.#arena;
    const at = this.#used;
    let p = at;
    for (let i = from; i < to; i++) arena[p++] = buf[i];
    this.#used = p;
    this.#kept.set(key, at * MAX_KEPT_BYTES + n);
  }
}

/**
 * Copies `src[from, from + n)` to `buf` at `p` (room made) and returns the
 * position after it: 8 bytes a step through DataViews, then byte by byte.
 * For runs of 10-60 bytes, about 2x a byte loop (32 bytes: 31 -> 16 ns)
 * and `set` of a `subarray` (30 ns: the view is an allocation).
 */
export function copyRun(
  buf: Uint8Array,
  view: DataView,
  p: number,
  src: Uint8Array,
  srcView: DataView,
  from: number,
  n: number,
): number {
  let i = from;
  const end = from + n;
  for (; i + 8 <= end; i += 8, p += 8) {
    view.setUint32(p, srcView.getUint32(i, true), true);
    view.setUint32(p + 4, srcView.getUint32(i + 4, true), true);
  }
  if (i + 4 <= end) {
    view.setUint32(p, srcView.getUint32(i, true), true);
    i += 4;
    p += 4;
  }
  for (; i < end; i++) buf[p++] = src[i];
  return p;
}

/** `X` (BINUNICODE), as pickle/_opcodes.ts names it (kept local: no import cycle). */
const BINUNICODE_OP = 0x58;
/** Longest string (in UTF-16 units) {@linkcode Writer.cachedStr} keeps. */
const MAX_CACHED_UNITS = 128;
/** The whole BINUNICODE opcodes of strings written by cachedStr. */
const strings = new BytesCache();

/**
 * utf8At's loop for long text of 3-byte characters, kept apart: it sees
 * only such strings (two bytes a character in V8), so V8 compiles it for
 * them; sharing utf8At with the short one-byte strings of every record made
 * it 3x slower (10 KB of CJK: 8 -> 27 µs).
 */
function wideUtf8At(buf: Uint8Array, s: string, at: number): number {
  let p = at;
  const len = s.length;
  for (let i = 0; i < len; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0x800 && (c < 0xd800 || c > 0xdfff)) {
      buf[p] = 0xe0 | (c >> 12);
      buf[p + 1] = 0x80 | ((c >> 6) & 0x3f);
      buf[p + 2] = 0x80 | (c & 0x3f);
      p += 3;
    } else if (c < 0x80) {
      buf[p++] = c;
    } else if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c <= 0xdbff && i + 1 < len) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buf[p++] = 0xf0 | (c >> 18);
          buf[p++] = 0x80 | ((c >> 12) & 0x3f);
          buf[p++] = 0x80 | ((c >> 6) & 0x3f);
          buf[p++] = 0x80 | (c & 0x3f);
          continue;
        }
      }
      // A lone surrogate, as surrogatepass writes it.
      buf[p++] = 0xe0 | (c >> 12);
      buf[p++] = 0x80 | ((c >> 6) & 0x3f);
      buf[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

/**
 * Writes `s` from its code unit `i` on as UTF-8 (lone surrogates as
 * surrogatepass does) at `p`; returns the position after it.
 */
export function utf8Tail(
  buf: Uint8Array,
  s: string,
  i: number,
  p: number,
): number {
  const len = s.length;
  for (; i < len; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[p++] = c;
    } else if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buf[p++] = 0xf0 | (c >> 18);
          buf[p++] = 0x80 | ((c >> 12) & 0x3f);
          buf[p++] = 0x80 | ((c >> 6) & 0x3f);
          buf[p++] = 0x80 | (c & 0x3f);
          continue;
        }
      }
      // BMP character, or a lone surrogate written as surrogatepass does.
      buf[p++] = 0xe0 | (c >> 12);
      buf[p++] = 0x80 | ((c >> 6) & 0x3f);
      buf[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

/**
 * An output buffer that hands out its results as views of a slab. The
 * result being written is `buf[start..pos]`; {@linkcode Writer.take} returns
 * it and the next result starts after it, so a view handed out is never
 * written again.
 */
export class Writer {
  buf: Uint8Array;
  view: DataView;
  /** Start of the result being written. */
  start = 0;
  /** End of what is written. */
  pos = 0;
  /** Results committed in `buf` (frames a queue holds, to be released). */
  #kept = 0;
  /** Whether a view of `buf` was handed out (take): it is never reused. */
  #pinned = false;

  constructor(size = SLAB_SIZE) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  /**
   * Makes room for `n` more bytes. When the slab is full, the result so far
   * moves to the start of a new slab: positions taken before a call to
   * `ensure` must be relative to `start`.
   */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.#grow(n);
  }

  /** ensure's rare part (kept apart so that V8 inlines ensure). */
  #grow(n: number): void {
    const used = this.pos - this.start;
    let size = SLAB_SIZE;
    while (size < used + n) size *= 2;
    const next = size === SLAB_SIZE ? newSlab() : new Uint8Array(size);
    next.set(this.buf.subarray(this.start, this.pos));
    this.#retire();
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.start = 0;
    this.pos = used;
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = b;
  }

  bytes2(a: number, b: number): void {
    this.ensure(2);
    this.buf[this.pos++] = a;
    this.buf[this.pos++] = b;
  }

  uint16le(n: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, n, true);
    this.pos += 2;
  }

  int32le(n: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, n, true);
    this.pos += 4;
  }

  uint32le(n: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, n, true);
    this.pos += 4;
  }

  float64be(n: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, n, false);
    this.pos += 8;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** ASCII-only text (opcode arguments such as global names). */
  ascii(s: string): void {
    this.ensure(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
  }

  /**
   * Writes a 4-byte little-endian length and then `s` as UTF-8, encoding a
   * lone surrogate as CPython's `surrogatepass` does (3 bytes, ED A0..BF xx),
   * so that `pickle.loads` gives back the same lone surrogate.
   * Returns the number of UTF-8 bytes written (without the length).
   */
  lengthPrefixedUtf8(s: string): number {
    const len = s.length;
    this.ensure(4 + len * MAX_UTF8_PER_UNIT);
    const start = this.pos + 4;
    let n: number;
    if (len <= SHORT_STRING) {
      n = this.utf8At(s, start) - start;
    } else if (isWide(s)) {
      n = wideUtf8At(this.buf, s, start) - start;
    } else if (s.isWellFormed()) {
      // `| 0`: written comes as a double, and one double stored in pos
      // turned the Writer's pos and start into double fields for good (V8
      // field generalization, seen with --trace-generalization): every
      // later record then paid for it (one record encoded after the
      // corpus's first exc_text: 0.78 -> 0.69 µs; the corpus 6% faster).
      n = textEncoder.encodeInto(s, this.buf.subarray(start)).written | 0;
    } else {
      n = this.utf8At(s, start) - start;
    }
    this.view.setUint32(this.pos, n, true);
    this.pos = start + n;
    return n;
  }

  /**
   * Writes `s` as UTF-8 (lone surrogates as `surrogatepass` does) at `at`,
   * without a length and without making room: the caller has ensured
   * three bytes per code unit. Returns the position after it.
   */
  utf8At(s: string, at: number): number {
    // ASCII in a loop of its own, the rest in utf8Tail (one record after
    // the corpus: ~3% less CPU).
    const buf = this.buf;
    let p = at;
    const len = s.length;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return utf8Tail(buf, s, i, p);
      buf[p++] = c;
    }
    return p;
  }

  /**
   * Writes `s` as a whole BINUNICODE opcode (`X`, length, UTF-8), copying
   * its bytes from a {@linkcode BytesCache} when `s` was written this way
   * before: for strings that repeat (names, paths, keys).
   */
  cachedStr(s: string): void {
    if (strings.copy(this, s)) return;
    // From the result's start: a full slab moves the result to a new one.
    const at = this.pos - this.start;
    this.byte(BINUNICODE_OP);
    this.lengthPrefixedUtf8(s);
    if (s.length <= MAX_CACHED_UNITS) {
      strings.keep(s, this.buf, this.start + at, this.pos);
    }
  }

  /**
   * The writer moves past `buf`: a slab none of whose results are held any
   * more goes back to the pool; one with results held, once they are all
   * released.
   */
  #retire(): void {
    const buf = this.buf;
    const kept = this.#kept;
    this.#kept = 0;
    if (this.#pinned) {
      this.#pinned = false;
      return;
    }
    if (buf.length !== SLAB_SIZE) return;
    const held = (outstanding.get(buf) ?? 0) + kept;
    if (held > 0) {
      outstanding.set(buf, held);
    } else if (held === 0) {
      outstanding.set(buf, 0);
      if (pool.length < MAX_POOLED) pool.push(buf);
    }
  }

  /** The result written since the last take, as a view; the next one starts after it. */
  take(): Uint8Array {
    const out = this.buf.subarray(this.start, this.pos);
    this.#pinned = true;
    this.commit();
    return out;
  }

  /**
   * Ends the result written since the last take without making a view of
   * it: the caller has noted `buf`, `start` and `pos`. The next result
   * starts after it, so those bytes are never written again, until the
   * slab is reused: once the writer moved past it, after the caller gave
   * back each result it kept with {@linkcode releaseFrames}.
   */
  commit(): void {
    this.#kept++;
    if (this.pos - this.start > LARGE_RESULT) {
      // Do not keep writing into (and so keep alive) a slab grown for one large result.
      this.#retire();
      this.buf = newSlab();
      this.view = new DataView(this.buf.buffer);
      this.pos = 0;
    }
    this.start = this.pos;
  }
}
