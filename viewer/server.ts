// Copyright the pysocklog authors. MIT license.
/**
 * The live log viewer behind `pysocklog view`: receivers for Python's
 * `SocketHandler` / `DatagramHandler` records (the safe decoder of
 * `listen()`), and a small web page, served by Deno's HTTP server, that
 * shows them as they arrive. The page and its assets come from this
 * process only; record data is rendered as text; the feed refuses other
 * origins; beyond loopback, every request needs the printed access token.
 *
 * @module
 */

import {
  formatAddr,
  listen,
  type ListenOptions,
  type ReceivedRecord,
  type Receiver,
} from "../receiver.ts";
import {
  DEFAULT_TCP_LOGGING_PORT,
  DEFAULT_UDP_LOGGING_PORT,
  RECORD_KEYS,
} from "../record.ts";
import { APP_JS, INDEX_HTML, STYLE_CSS } from "./_assets.ts";
import { renderRecord } from "./_render.ts";

/** What the page takes for standard keys: CPython's, and `message`. */
const STANDARD_KEYS: readonly string[] = [...RECORD_KEYS, "message"];

/** Default port of the viewer's web page. */
export const DEFAULT_HTTP_PORT = 9080;
/**
 * Default records kept for the page: the page's in-memory buffer, and the
 * history a page opened later starts with. At about 1 KB per record of
 * JSON, 20,000 records hold the page at tens of MB.
 */
export const DEFAULT_BUFFER_RECORDS = 20_000;
/** Largest page buffer accepted (rows are 20 px; browsers cap an element near 33 million px). */
export const MAX_BUFFER_RECORDS = 1_000_000;
/**
 * Most characters of record JSON kept, whatever the record count: in the
 * history and in each page's buffer. Records are cut to MAX_RECORD_CHARS
 * each, so large records shorten the buffer instead of growing memory.
 */
export const MAX_BUFFER_CHARS = 32 * 1024 * 1024;
/**
 * Records are sent to pages in batches, one per this many ms: at 10,000
 * records/s a page parses 10 messages a second instead of 10,000.
 */
export const BATCH_INTERVAL_MS = 100;
/** Most records in one feed message. */
const MAX_BATCH_RECORDS = 2_000;
/** Most characters of records in one feed message (at least one record). */
const MAX_BATCH_CHARS = 1024 * 1024;
/**
 * Bytes queued for one page that does not read. Past them its records wait
 * in the shared history; those that leave the history before the page gets
 * them are skipped (the page sees the gap in sequence numbers and shows it).
 */
export const MAX_FEED_QUEUE_BYTES = 4 * 1024 * 1024;
/** Most pages connected to the feed at once; more are refused (503). */
export const MAX_FEED_CLIENTS = 16;
/**
 * How often the receivers' drop counts are checked while pages are open: a
 * drop with no record after it reaches the pages in an empty batch (before,
 * a page fed only bad frames showed none of them).
 */
const STATS_INTERVAL_MS = 1_000;
/** A comment line on an idle feed this often keeps proxies from closing it. */
const KEEPALIVE_MS = 15_000;
/** The port a browser leaves out of the Host header of an http: URL. */
const HTTP_DEFAULT_PORT = 80;
/** Bytes of randomness in the access token (hex in the URL). */
const TOKEN_BYTES = 16;

/**
 * The Content-Security-Policy of every response: the page may load scripts,
 * styles, images and its feed from this server only, and nothing else.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "connect-src 'self'; img-src 'self'; base-uri 'none'; " +
  "form-action 'none'; frame-ancestors 'none'";

/** Options of {@linkcode serveViewer}. */
export interface ViewerOptions {
  /**
   * The receivers to start, as `listen()` options (their defaults apply,
   * including the decoder's bounds).
   *
   * @default {[{ transport: "tcp", port: 9020 }, { transport: "udp", port: 9021 }]}
   */
  receivers?: ListenOptions[];
  /**
   * Address of the web page. Anything but loopback makes every request
   * (page, assets, feed) need the random token printed in `url`.
   *
   * @default {"127.0.0.1"}
   */
  httpHostname?: string;
  /**
   * Port of the web page; 0 picks a free one.
   *
   * @default {9080}
   */
  httpPort?: number;
  /**
   * Records the page keeps (older ones leave it), and the history a page
   * gets when it is opened.
   *
   * @default {20_000}
   */
  bufferRecords?: number;
  /**
   * Stops the viewer when aborted.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Counters of a {@linkcode Viewer}. */
export interface ViewerStats {
  /** Records received from all receivers. */
  records: number;
  /** Pages connected to the feed now. */
  feeds: number;
  /** Requests refused: a wrong or missing token. */
  refusedToken: number;
  /** Feed requests refused: another origin (or a cross-site fetch). */
  refusedOrigin: number;
  /** Requests refused: a Host header that is not this server (DNS rebinding). */
  refusedHost: number;
  /** Feed requests refused: too many pages connected. */
  refusedBusy: number;
  /** Records skipped for pages that did not keep up (per page, summed). */
  skipped: number;
}

/** A running viewer. */
export interface Viewer extends AsyncDisposable {
  /** The page's URL, with the access token when there is one. */
  readonly url: string;
  /** The address the page is served on. */
  readonly httpAddr: Deno.NetAddr;
  /** The running receivers. */
  readonly receivers: readonly Receiver[];
  /** What happened so far. */
  readonly stats: Readonly<ViewerStats>;
  /** Stops the receivers, closes the feeds and the HTTP server. */
  close(): Promise<void>;
  /** Settles when the viewer has stopped. */
  readonly finished: Promise<void>;
}

/** Whether `hostname` names the loopback interface. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Starts the receivers and the web page.
 *
 * @param options Receivers, page address and buffer.
 * @returns The running viewer.
 */
export async function serveViewer(
  options: ViewerOptions = {},
): Promise<Viewer> {
  const bufferRecords = options.bufferRecords ?? DEFAULT_BUFFER_RECORDS;
  if (
    !Number.isInteger(bufferRecords) || bufferRecords < 1 ||
    bufferRecords > MAX_BUFFER_RECORDS
  ) {
    throw new RangeError(
      `bufferRecords must be an integer from 1 to ${MAX_BUFFER_RECORDS}, not ${bufferRecords}`,
    );
  }
  const httpPort = options.httpPort ?? DEFAULT_HTTP_PORT;
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535) {
    throw new RangeError(`httpPort must be 0 to 65535, not ${httpPort}`);
  }
  const httpHostname = options.httpHostname ?? "127.0.0.1";
  const specs = options.receivers ??
    [{ transport: "tcp" as const }, { transport: "udp" as const }];
  const v = new ViewerImpl(bufferRecords, httpHostname);
  try {
    for (const spec of specs) {
      try {
        v.receivers.push(await listen({ ...spec, signal: undefined }));
      } catch (error) {
        const where = spec.transport === "unix"
          ? `unix ${spec.path}`
          : `${spec.transport ?? "tcp"} ${spec.hostname ?? "127.0.0.1"}:${
            spec.port ??
              (spec.transport === "udp"
                ? DEFAULT_UDP_LOGGING_PORT
                : DEFAULT_TCP_LOGGING_PORT)
          }`;
        throw new Error(`cannot receive on ${where}: ${message(error)}`, {
          cause: error,
        });
      }
    }
    try {
      v.startHttp(httpPort);
    } catch (error) {
      throw new Error(
        `cannot serve the page on ${httpHostname}:${httpPort}: ${
          message(error)
        }`,
        { cause: error },
      );
    }
  } catch (error) {
    await v.close();
    throw error;
  }
  for (const r of v.receivers) v.consume(r);
  const signal = options.signal;
  if (signal !== undefined) {
    if (signal.aborted) await v.close();
    else signal.addEventListener("abort", () => void v.close(), { once: true });
  }
  return v;
}

interface Feed {
  controller: ReadableStreamDefaultController<Uint8Array>;
  keepalive: ReturnType<typeof setInterval>;
  /** The next seq to send. */
  cursor: number;
  /** Whether its queue was full when records were left to send. */
  blocked: boolean;
  /** The drop counts it was last sent (dropped, kernelDrops). */
  sentDrops: string;
}

/** What the pages are told of the receivers. */
interface ReceiverCounts {
  received: number;
  dropped: number;
  /** UDP datagrams the kernel dropped; null where unknown. */
  kernelDrops: number | null;
}

const encoder = new TextEncoder();

class ViewerImpl implements Viewer {
  readonly receivers: Receiver[] = [];
  readonly #stats: ViewerStats = {
    records: 0,
    feeds: 0,
    refusedToken: 0,
    refusedOrigin: 0,
    refusedHost: 0,
    refusedBusy: 0,
    skipped: 0,
  };
  readonly #bufferRecords: number;
  readonly #hostname: string;
  readonly #token: string | null;
  readonly #instance = crypto.randomUUID();
  /**
   * JSON of the last records (at most `bufferRecords`, MAX_BUFFER_CHARS):
   * #history[#head + i] has seq #historyFirst + i. Every page reads from it
   * at its own cursor.
   */
  #history: (string | undefined)[] = [];
  #head = 0;
  #historyFirst = 0;
  #historyChars = 0;
  #nextSeq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  readonly #feeds = new Set<Feed>();
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;
  #allowedHosts = new Set<string>();
  #url = "";
  #closed = false;
  readonly #consumers: Promise<void>[] = [];
  #closing: Promise<void> | null = null;
  #finished!: () => void;
  readonly finished = new Promise<void>((r) => this.#finished = r);

  constructor(bufferRecords: number, hostname: string) {
    this.#bufferRecords = bufferRecords;
    this.#hostname = hostname;
    this.#token = isLoopback(hostname) ? null : newToken();
  }

  get url(): string {
    return this.#url;
  }

  get httpAddr(): Deno.NetAddr {
    return this.#server!.addr;
  }

  get stats(): Readonly<ViewerStats> {
    return { ...this.#stats, feeds: this.#feeds.size };
  }

  startHttp(port: number): void {
    this.#server = Deno.serve({
      hostname: this.#hostname,
      port,
      onListen: () => {},
    }, (request) => this.#handle(request));
    const { port: bound } = this.#server.addr;
    const wildcard = this.#hostname === "0.0.0.0" || this.#hostname === "::";
    const shown = wildcard ? "127.0.0.1" : this.#hostname;
    const host = shown.includes(":") ? `[${shown}]` : shown;
    this.#url = `http://${host}:${bound}/` +
      (this.#token === null ? "" : `?token=${this.#token}`);
    this.#statsTimer = setInterval(() => this.#checkDrops(), STATS_INTERVAL_MS);
    for (const h of ["127.0.0.1", "localhost", "[::1]", host]) {
      this.#allowedHosts.add(`${h.toLowerCase()}:${bound}`);
      // On port 80 a browser sends "Host: 127.0.0.1": it was refused (421)
      // and `--http-port 80` served no page.
      if (bound === HTTP_DEFAULT_PORT) this.#allowedHosts.add(h.toLowerCase());
    }
  }

  consume(receiver: Receiver): void {
    this.#consumers.push((async () => {
      for await (const record of receiver) this.#add(record);
    })());
  }

  #add(record: ReceivedRecord): void {
    this.#stats.records++;
    const json = renderRecord(record);
    this.#nextSeq++;
    this.#history.push(json);
    this.#historyChars += json.length;
    while (
      this.#history.length - this.#head > 1 &&
      (this.#history.length - this.#head > this.#bufferRecords ||
        this.#historyChars > MAX_BUFFER_CHARS)
    ) {
      this.#historyChars -= this.#history[this.#head]!.length;
      this.#history[this.#head++] = undefined;
      this.#historyFirst++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#history.length) {
      // Compact by halves: amortised O(1) per record.
      this.#history = this.#history.slice(this.#head);
      this.#head = 0;
    }
    if (this.#feeds.size > 0) {
      this.#timer ??= setTimeout(() => this.#flush(), BATCH_INTERVAL_MS);
    }
  }

  #flush(): void {
    this.#timer = undefined;
    for (const feed of this.#feeds) this.#pump(feed);
  }

  /** Sends a page what it has not had yet, as far as its queue has room. */
  #pump(feed: Feed): void {
    feed.blocked = false;
    if (feed.cursor < this.#historyFirst) {
      // Left the history before this page took them.
      this.#stats.skipped += this.#historyFirst - feed.cursor;
      feed.cursor = this.#historyFirst;
    }
    if (feed.cursor >= this.#nextSeq) return;
    const stats = this.#receiverStats();
    feed.sentDrops = drops(stats);
    while (feed.cursor < this.#nextSeq) {
      if ((feed.controller.desiredSize ?? 0) <= 0) {
        feed.blocked = true;
        return;
      }
      const from = this.#head + feed.cursor - this.#historyFirst;
      const end = Math.min(
        this.#history.length,
        from + MAX_BATCH_RECORDS,
      );
      let to = from + 1;
      let chars = this.#history[from]!.length;
      while (to < end && chars + this.#history[to]!.length <= MAX_BATCH_CHARS) {
        chars += this.#history[to++]!.length;
      }
      feed.controller.enqueue(batchEvent(
        this.#instance,
        feed.cursor,
        this.#history.slice(from, to) as string[],
        stats,
      ));
      feed.cursor += to - from;
    }
  }

  #receiverStats(): ReceiverCounts {
    let received = 0, dropped = 0, kernelDrops: number | null = null;
    for (const r of this.receivers) {
      const s = r.stats;
      received += s.records;
      dropped += s.dropped;
      if (s.kernelDrops !== null) {
        kernelDrops = (kernelDrops ?? 0) + s.kernelDrops;
      }
    }
    return { received, dropped, kernelDrops };
  }

  /** Tells the pages of drops that came with no record after them. */
  #checkDrops(): void {
    if (this.#feeds.size === 0) return;
    const stats = this.#receiverStats();
    const now = drops(stats);
    for (const feed of this.#feeds) {
      if (feed.sentDrops === now) continue;
      if (feed.cursor < this.#nextSeq) {
        this.#pump(feed); // its next batch carries them
        continue;
      }
      if ((feed.controller.desiredSize ?? 0) <= 0) continue;
      feed.sentDrops = now;
      feed.controller.enqueue(
        batchEvent(this.#instance, feed.cursor, [], stats),
      );
    }
  }

  #handle(request: Request): Response {
    const url = new URL(request.url);
    if (this.#token !== null) {
      if (!sameToken(url.searchParams.get("token"), this.#token)) {
        this.#stats.refusedToken++;
        return text(403, "pysocklog view: this page needs its access token");
      }
    } else {
      const host = (request.headers.get("host") ?? "").toLowerCase();
      if (!this.#allowedHosts.has(host)) {
        this.#stats.refusedHost++;
        return text(421, "pysocklog view: unknown Host");
      }
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text(405, "pysocklog view: only GET");
    }
    const query = this.#token === null ? "" : `?token=${this.#token}`;
    switch (url.pathname) {
      case "/":
        return asset(
          INDEX_HTML.replaceAll("{{QUERY}}", query)
            .replace("{{BUFFER}}", String(this.#bufferRecords))
            .replace("{{BUFFER_CHARS}}", String(MAX_BUFFER_CHARS)),
          "text/html; charset=utf-8",
        );
      case "/app.js":
        return asset(APP_JS, "text/javascript; charset=utf-8");
      case "/style.css":
        return asset(STYLE_CSS, "text/css; charset=utf-8");
      case "/feed":
        return this.#feed(request, url);
      default:
        return text(404, "pysocklog view: not found");
    }
  }

  #feed(request: Request, url: URL): Response {
    const origin = request.headers.get("origin");
    const site = request.headers.get("sec-fetch-site");
    const own = `${url.protocol}//${request.headers.get("host")}`;
    if (
      (origin !== null && origin !== own) ||
      (site !== null && site !== "same-origin" && site !== "none")
    ) {
      this.#stats.refusedOrigin++;
      return text(403, "pysocklog view: the feed serves this page only");
    }
    if (request.method === "HEAD") {
      return new Response(null, {
        headers: headers("text/event-stream; charset=utf-8"),
      });
    }
    if (this.#feeds.size >= MAX_FEED_CLIENTS || this.#closed) {
      this.#stats.refusedBusy++;
      return text(503, "pysocklog view: too many pages open");
    }
    const after = lastSeq(request.headers.get("last-event-id"), this.#instance);
    const feed: Feed = {
      controller: null!,
      keepalive: 0 as unknown as ReturnType<typeof setInterval>,
      cursor: Math.max(this.#historyFirst, after + 1),
      blocked: false,
      sentDrops: "",
    };
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        feed.controller = controller;
        feed.keepalive = setInterval(() => {
          try {
            controller.enqueue(encoder.encode(":\n\n"));
          } catch {
            // closed
          }
        }, KEEPALIVE_MS);
        this.#feeds.add(feed);
        controller.enqueue(encoder.encode(
          `retry: 1000\nevent: hello\ndata: ${
            JSON.stringify({
              instance: this.#instance,
              // The seq this feed starts at: a gap before its first batch
              // (records that left the history first) is the page's loss.
              next: feed.cursor,
              bufferRecords: this.#bufferRecords,
              standardKeys: STANDARD_KEYS,
            })
          }\n\n`,
        ));
        // The history first (what this page missed), then live batches.
        this.#pump(feed);
      },
      // The page read some: send what waited for room.
      pull: () => {
        if (feed.blocked) this.#pump(feed);
      },
      cancel: () => this.#dropFeed(feed),
    }, {
      highWaterMark: MAX_FEED_QUEUE_BYTES,
      size: (chunk) => chunk.byteLength,
    });
    return new Response(body, {
      headers: headers("text/event-stream; charset=utf-8"),
    });
  }

  #dropFeed(feed: Feed): void {
    clearInterval(feed.keepalive);
    this.#feeds.delete(feed);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.receivers.map((r) => r.close()));
    await Promise.allSettled(this.#consumers);
    clearTimeout(this.#timer);
    clearInterval(this.#statsTimer);
    this.#flush();
    const stats = this.#receiverStats();
    for (const feed of this.#feeds) {
      this.#dropFeed(feed);
      try {
        if (feed.cursor < this.#nextSeq) {
          // A page that did not keep up: what it will never get is counted
          // on it by one empty batch past the last seq (about 150 bytes).
          this.#stats.skipped += this.#nextSeq - feed.cursor;
          feed.cursor = this.#nextSeq;
          feed.controller.enqueue(
            batchEvent(this.#instance, this.#nextSeq, [], stats),
          );
        }
        feed.controller.close();
      } catch {
        // already closed
      }
    }
    if (this.#server !== null) {
      await this.#server.shutdown();
    }
    this.#finished();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function batchEvent(
  instance: string,
  first: number,
  records: string[],
  stats: ReceiverCounts,
): Uint8Array {
  const last = first + records.length - 1;
  return encoder.encode(
    `id: ${instance}:${last}\ndata: {"first":${first},"received":${stats.received},"dropped":${stats.dropped},"kernelDrops":${stats.kernelDrops},"sizes":[${
      records.map((r) => r.length).join(",")
    }],"records":[${records.join(",")}]}\n\n`,
  );
}

function drops(stats: ReceiverCounts): string {
  return `${stats.dropped},${stats.kernelDrops}`;
}

/**
 * The last seq a reconnecting page has (its Last-Event-ID), when that id
 * comes from this process; else -1 (the page gets the whole history).
 */
function lastSeq(id: string | null, instance: string): number {
  if (id === null || !id.startsWith(instance + ":")) return -1;
  const seq = id.slice(instance.length + 1);
  return /^\d{1,15}$/.test(seq) ? Number(seq) : -1;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares in time independent of where the strings differ. */
function sameToken(given: string | null, token: string): boolean {
  if (given === null || given.length !== token.length) return false;
  let diff = 0;
  for (let i = 0; i < token.length; i++) {
    diff |= given.charCodeAt(i) ^ token.charCodeAt(i);
  }
  return diff === 0;
}

function headers(type: string): Headers {
  return new Headers({
    "content-type": type,
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
  });
}

function asset(body: string, type: string): Response {
  return new Response(body, { headers: headers(type) });
}

function text(status: number, body: string): Response {
  return new Response(body + "\n", {
    status,
    headers: headers("text/plain; charset=utf-8"),
  });
}

/** Where the receivers listen, as text for the CLI's first line. */
export function describeReceivers(receivers: readonly Receiver[]): string {
  return receivers.map((r) => `${r.addr.transport} ${formatAddr(r.addr)}`)
    .join(", ");
}
