// Copyright the pysocklog authors. MIT license.
/**
 * CPython's backoff (`logging.handlers.SocketHandler.createSocket`), shared
 * by SocketHandler's connections and DatagramHandler's socket: the first
 * failure waits `retryStart` seconds, each later one `retryFactor` times
 * longer, at most `retryMax`; no attempt before `retryTime`; a success
 * sets `retryTime` to null.
 *
 * @module
 */

import { checkPositive, type RetryOptions } from "./_options.ts";

/** CPython's default `retryStart` (seconds). */
export const DEFAULT_RETRY_START = 1;
/** CPython's default `retryMax` (seconds). */
export const DEFAULT_RETRY_MAX = 30;
/** CPython's default `retryFactor`. */
export const DEFAULT_RETRY_FACTOR = 2;

/** The attributes CPython's handlers keep the backoff in, by their names. */
export interface Backoff {
  retryStart: number;
  retryMax: number;
  retryFactor: number;
  /** When the next attempt may be made (epoch seconds), or null: now. */
  retryTime: number | null;
  /** Seconds of the current wait between attempts. */
  retryPeriod: number;
}

/**
 * The backoff a handler starts with, its options checked up front.
 *
 * @throws {RangeError} When a retry value is not a positive number, or
 * `retryMax` is below `retryStart`.
 */
export function initialBackoff(options: RetryOptions): Backoff {
  const retryStart = options.retryStart ?? DEFAULT_RETRY_START;
  const retryMax = options.retryMax ?? DEFAULT_RETRY_MAX;
  const retryFactor = options.retryFactor ?? DEFAULT_RETRY_FACTOR;
  checkPositive("retryStart", retryStart);
  checkPositive("retryMax", retryMax);
  checkPositive("retryFactor", retryFactor);
  if (retryMax < retryStart) {
    throw new RangeError(
      `retryMax (${retryMax}) must be at least retryStart (${retryStart})`,
    );
  }
  return {
    retryStart,
    retryMax,
    retryFactor,
    retryTime: null,
    retryPeriod: retryStart,
  };
}

/** Whether an attempt may be made at `now` (epoch seconds). */
export function mayAttempt(b: Backoff, now: number): boolean {
  return b.retryTime === null || now >= b.retryTime;
}

/** CPython's step after a failed attempt made at `now` (epoch seconds). */
export function backOff(b: Backoff, now: number): void {
  if (b.retryTime === null) {
    b.retryPeriod = b.retryStart;
  } else {
    b.retryPeriod = b.retryPeriod * b.retryFactor;
    if (b.retryPeriod > b.retryMax) b.retryPeriod = b.retryMax;
  }
  b.retryTime = now + b.retryPeriod;
}

/** One attempt at a time: a second caller waits for the one under way. */
export class OneAttempt {
  #current: Promise<void> | null = null;

  /** Runs `attempt`, or returns the run under way. */
  run(attempt: () => Promise<void>): Promise<void> {
    this.#current ??= attempt().finally(() => {
      this.#current = null;
    });
    return this.#current;
  }
}
