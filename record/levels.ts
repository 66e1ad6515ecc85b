// Copyright the pysocklog authors. MIT license.
/**
 * Python's logging levels: numbers, names, and the conversions between them
 * (std/log's `WARN` and LogTape's `fatal`/`trace` included).
 *
 * @module
 */

/** `logging.CRITICAL`. */
export const CRITICAL = 50;
/** `logging.ERROR`. */
export const ERROR = 40;
/** `logging.WARNING`. */
export const WARNING = 30;
/** `logging.INFO`. */
export const INFO = 20;
/** `logging.DEBUG`. */
export const DEBUG = 10;
/** Below DEBUG: LogTape's `trace`. Not a CPython level; named TRACE here. */
export const TRACE = 5;
/** `logging.NOTSET`. */
export const NOTSET = 0;

/**
 * A level: a number (`20`), or a name in any case (`"INFO"`, `"warn"`,
 * `"fatal"`, `"Level 25"`).
 */
export type Level = number | string;

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  [CRITICAL]: "CRITICAL",
  [ERROR]: "ERROR",
  [WARNING]: "WARNING",
  [INFO]: "INFO",
  [DEBUG]: "DEBUG",
  [TRACE]: "TRACE",
  [NOTSET]: "NOTSET",
};

export const NAME_LEVELS: Readonly<Record<string, number>> = {
  CRITICAL,
  FATAL: CRITICAL,
  ERROR,
  WARNING,
  WARN: WARNING,
  INFO,
  DEBUG,
  TRACE,
  NOTSET,
};

export const LEVEL_N = /^Level (-?\d+)$/i;

/**
 * The name Python gives a level number: `getLevelName(30) === "WARNING"`,
 * `getLevelName(25) === "Level 25"`.
 *
 * @example Level names
 * ```ts
 * import { getLevelName } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(getLevelName(30), "WARNING");
 * equal(getLevelName(25), "Level 25");
 * ```
 *
 * @param levelno A level number.
 * @returns Its name.
 */
export function getLevelName(levelno: number): string {
  return LEVEL_NAMES[levelno] ?? `Level ${levelno}`;
}

/**
 * The number of a level given by name or number. Names are matched in any
 * case; `WARN` is `WARNING` (30), `FATAL` is `CRITICAL` (50), `TRACE` is 5,
 * and `"Level N"` is N.
 *
 * @example Level numbers
 * ```ts
 * import { getLevelNo } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(getLevelNo("warn"), 30);
 * equal(getLevelNo("fatal"), 50);
 * equal(getLevelNo(15), 15);
 * ```
 *
 * @param level A level name or number.
 * @returns Its number.
 * @throws {RangeError} When the name is not a level.
 */
export function getLevelNo(level: Level): number {
  if (typeof level === "number") return level;
  const upper = level.toUpperCase();
  const n = NAME_LEVELS[upper];
  if (n !== undefined) return n;
  const m = LEVEL_N.exec(level);
  if (m) return Number(m[1]);
  throw new RangeError(`Unknown level: ${JSON.stringify(level)}`);
}

/**
 * The canonical name of a level name: `WARN` gives `WARNING`.
 *
 * @param name A level name.
 * @returns Python's name for it.
 */
export function canonicalLevelName(name: string): string {
  const n = NAME_LEVELS[name.toUpperCase()];
  return n === undefined ? name : LEVEL_NAMES[n];
}
