// Copyright the pysocklog authors. MIT license.
/**
 * pysocklog: ship log records from Deno to anything that speaks Python's
 * `logging.handlers.SocketHandler` wire format, and receive them back safely.
 *
 * This entry is the core: the pickle encoder, the record model and framing,
 * and the handlers. It has no dependency outside Deno itself.
 *
 * Permissions: `--allow-net` for TCP and UDP handlers, `--allow-read` and
 * `--allow-write` for a Unix socket path; encoding needs none.
 *
 * @example Encode a record as CPython's SocketHandler would send it
 * ```ts
 * import { makePickle } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * const frame = makePickle({ name: "app", levelname: "INFO", msg: "started" });
 * // 4-byte big-endian length, then the pickle (protocol 2: \x80\x02)
 * const length = new DataView(frame.buffer, frame.byteOffset).getUint32(0);
 * equal(length, frame.length - 4);
 * equal(frame[4], 0x80);
 * equal(frame[5], 2);
 * ```
 *
 * @module
 */

export { dumps, type PickleValue } from "./pickle/encode.ts";
export {
  bytesToJSON,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_ITEMS,
  DEFAULT_MAX_MEMO,
  DEFAULT_MAX_WORK,
  loads,
  type LoadsOptions,
  PickleDate,
  PickleDateTime,
  PickleDecimal,
  PickleDecodeError,
  PickleGlobal,
  PickleObject,
  PicklePath,
  PickleSet,
  PickleTime,
  PickleTimedelta,
  PickleTimezone,
  PickleUUID,
} from "./pickle/decode.ts";
export {
  isTuple,
  PickleFloat,
  type PickleTuple,
  tuple,
} from "./pickle/_types.ts";
export {
  type CallerInfo,
  CRITICAL,
  DEBUG,
  DEFAULT_TCP_LOGGING_PORT,
  DEFAULT_UDP_LOGGING_PORT,
  ERROR,
  findCaller,
  getLevelName,
  getLevelNo,
  getMessage,
  INFO,
  type Level,
  type LogRecordDict,
  type LogRecordFields,
  type LogRecordInit,
  makeLogRecord,
  makePickle,
  NOTSET,
  RECORD_KEYS,
  TRACE,
  WARNING,
} from "./record.ts";

export {
  type Filter,
  type FlushOptions,
  type FrameBatch,
  Handler,
  type HandlerOptions,
  type HandlerStats,
  type RetryOptions,
  TransmitError,
} from "./handlers/handler.ts";
export {
  SocketHandler,
  type SocketHandlerOptions,
  type TlsOptions,
} from "./handlers/socket.ts";
export {
  DatagramHandler,
  type DatagramHandlerOptions,
  MAX_DATAGRAM_BYTES,
} from "./handlers/datagram.ts";
