// Copyright the pysocklog authors. MIT license.
// The receiver's limits: their defaults (public, re-exported by
// receiver.ts) and the up-front check of each option.

/** Default largest frame accepted (a pickle of 16 MiB is no log record). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/**
 * Default most connections served at once (rsyslog's `MaxSessions`
 * default).
 */
export const DEFAULT_MAX_CONNECTIONS = 200;
/**
 * Default most bytes held for frames still arriving, across all
 * connections, beyond each connection's 64 KiB read buffer.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** Default ms a frame may take from its first byte to its last. */
export const DEFAULT_FRAME_TIMEOUT = 30_000;
/** Default ms a new connection may stay silent before it is closed. */
export const DEFAULT_IDLE_TIMEOUT = 10_000;
/** Default records buffered for a slow consumer before senders wait. */
export const DEFAULT_MAX_BUFFERED_RECORDS = 10_000;

/** `value ?? fallback`, checked to be a positive number (integer if asked). */
export function limit(
  name: string,
  value: number | undefined,
  fallback: number,
  integer = true,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || !(value > 0) ||
    (integer && !Number.isSafeInteger(value) && value !== Infinity)
  ) {
    throw new RangeError(
      `listen(): ${name} must be a positive ${
        integer ? "integer" : "number"
      }, got ${String(value)}`,
    );
  }
  return value;
}
