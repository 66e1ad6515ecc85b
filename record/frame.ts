// Copyright the pysocklog authors. MIT license.
/**
 * The wire's framing, as CPython's `SocketHandler` writes it: a 4-byte
 * unsigned big-endian length (`struct.pack(">L", n)`), then the pickle.
 * Also the ports CPython's `logging.handlers` names.
 *
 * @module
 */

import { MAX_UINT32 } from "../pickle/_opcodes.ts";
import type { Writer } from "../pickle/_writer.ts";

/**
 * The port CPython's `logging.handlers.DEFAULT_TCP_LOGGING_PORT` names.
 *
 * @example
 * ```ts
 * import { DEFAULT_TCP_LOGGING_PORT } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(DEFAULT_TCP_LOGGING_PORT, 9020);
 * ```
 */
export const DEFAULT_TCP_LOGGING_PORT = 9020;

/**
 * The port CPython's `logging.handlers.DEFAULT_UDP_LOGGING_PORT` names.
 *
 * @example
 * ```ts
 * import { DEFAULT_UDP_LOGGING_PORT } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(DEFAULT_UDP_LOGGING_PORT, 9021);
 * ```
 */
export const DEFAULT_UDP_LOGGING_PORT = 9021;

/** Bytes of the `>L` length prefix. */
export const FRAME_HEADER = 4;

/**
 * Checks that a pickle of `length` bytes can be framed (`>L` holds at most
 * 2^32-1) and returns the length.
 *
 * @param length The pickle's length.
 * @returns The length.
 * @throws {RangeError} When it cannot.
 */
export function frameLength(length: number): number {
  if (length > MAX_UINT32) {
    throw new RangeError(
      `Record pickle is ${length} bytes; a frame holds at most ${MAX_UINT32} (2^32-1) bytes`,
    );
  }
  return length;
}

/**
 * Makes room for the length prefix of the frame about to be written.
 *
 * @param w The writer.
 */
export function beginFrame(w: Writer): void {
  w.ensure(FRAME_HEADER);
  w.pos += FRAME_HEADER;
}

/**
 * Sets the length prefix of the frame written since the last take.
 *
 * @param w The writer.
 * @returns The frame's length, prefix included.
 */
export function endFrame(w: Writer): number {
  // The slab may have moved while writing: the frame starts at w.start.
  const length = w.pos - w.start;
  w.view.setUint32(w.start, frameLength(length - FRAME_HEADER), false);
  return length;
}
