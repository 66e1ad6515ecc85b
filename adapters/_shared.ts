// Copyright the pysocklog authors. MIT license.
// What the @std/log handlers (std_log.ts) and the LogTape sinks (logtape.ts)
// share: where to send (a Unix socket path, or a host and a port) and how a
// framework's structured data becomes extra keys without replacing a
// standard one.

import {
  SocketHandler,
  type SocketHandlerOptions,
} from "../handlers/socket.ts";
import {
  DatagramHandler,
  type DatagramHandlerOptions,
} from "../handlers/datagram.ts";
import {
  DEFAULT_TCP_LOGGING_PORT,
  DEFAULT_UDP_LOGGING_PORT,
  RECORD_KEYS,
} from "../record.ts";

/** Host the adapters send to when none is given. */
export const DEFAULT_HOSTNAME = "localhost";

/** Where a TCP (or TLS) handler sends: a host and a port, or a Unix socket. */
export interface SocketAddress {
  /**
   * Host of the receiver.
   *
   * @default {"localhost"}
   */
  hostname?: string;
  /**
   * Port of the receiver.
   *
   * @default {9020}
   */
  port?: number;
  /**
   * A Unix socket path; when set, `hostname` and `port` are not used.
   *
   * @default {undefined}
   */
  path?: string;
}

/** Where a UDP handler sends. */
export interface DatagramAddress {
  /**
   * Host of the receiver.
   *
   * @default {"localhost"}
   */
  hostname?: string;
  /**
   * Port of the receiver.
   *
   * @default {9021}
   */
  port?: number;
}

/**
 * A core `SocketHandler` to the address in `options`, with the rest of
 * `options` as its own.
 */
export function socketHandlerAt(
  options: SocketAddress & SocketHandlerOptions,
): SocketHandler {
  const {
    hostname = DEFAULT_HOSTNAME,
    port = DEFAULT_TCP_LOGGING_PORT,
    path,
    ...rest
  } = options;
  return path !== undefined
    ? new SocketHandler(path, null, rest)
    : new SocketHandler(hostname, port, rest);
}

/**
 * A core `DatagramHandler` to the address in `options`, with the rest of
 * `options` as its own.
 */
export function datagramHandlerAt(
  options: DatagramAddress & DatagramHandlerOptions,
): DatagramHandler {
  const {
    hostname = DEFAULT_HOSTNAME,
    port = DEFAULT_UDP_LOGGING_PORT,
    ...rest
  } = options;
  return new DatagramHandler(hostname, port, rest);
}

/**
 * Keys an extra must not take: the record's own, and the two Python's
 * formatters set (`message`, `asctime`), which CPython's `makeRecord`
 * refuses as extras.
 */
const RESERVED: ReadonlySet<string> = new Set([
  ...RECORD_KEYS,
  "message",
  "asctime",
]);

/**
 * A framework's structured data as extra keys: a key that is reserved
 * (`name`, `msg`, `message`, ...) is kept under its name plus `_` (plus as
 * many `_` as needed to be new), so it never replaces a standard key and is
 * never lost. Returns `data` itself when no key is reserved.
 */
export function toExtra(
  data: Readonly<Record<string, unknown>>,
): Readonly<Record<string, unknown>> {
  let reserved = false;
  for (const key in data) {
    if (RESERVED.has(key) && Object.hasOwn(data, key)) {
      reserved = true;
      break;
    }
  }
  if (!reserved) return data;
  // No prototype: a "__proto__" key is data here.
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(data)) {
    if (!RESERVED.has(key)) out[key] = data[key];
  }
  for (const key of Object.keys(data)) {
    if (!RESERVED.has(key)) continue;
    let name = key + "_";
    while (RESERVED.has(name) || Object.hasOwn(out, name)) name += "_";
    out[name] = data[key];
  }
  return out;
}
