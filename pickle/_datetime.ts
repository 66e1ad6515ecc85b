// Copyright the pysocklog authors. MIT license.
// Python's datetime values, read as data: date, time, datetime (naive or
// with a fixed-offset `timezone`), timezone and timedelta, computed from
// the state bytes and ints their pickles hold (CPython's `__reduce__`:
// `date(b"\x07\xe8\x01\x02")`, `timedelta(days, seconds, us)`...).
// `String()` is Python's `isoformat()` for dates and times (a datetime's
// `str()` has a space for the `T`) and `str()` for the rest; JSON is what
// Python's JSON loggers write: `isoformat()` for dates and times,
// `total_seconds()` for a timedelta.

import { latin1Bytes } from "./_text.ts";

const US_PER_SECOND = 1_000_000;
const SECONDS_PER_DAY = 86_400;
/** Python's `timedelta.max.days`. */
const MAX_DAYS = 999_999_999;

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** `HH:MM:SS` and `.ffffff` when there are microseconds, as isoformat(). */
function isoTime(h: number, m: number, s: number, us: number): string {
  const text = `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}`;
  return us === 0 ? text : `${text}.${pad(us, 6)}`;
}

/**
 * A Python `datetime.date`, read from a pickle.
 *
 * @example A date from Python
 * ```ts
 * import { loads, PickleDate } from "@pysocklog/pysocklog";
 * import { equal, ok } from "node:assert/strict";
 *
 * // pickle.dumps(datetime.date(2024, 1, 2), 3)
 * const pickle = "\x80\x03cdatetime\ndate\nC\x04\x07\xe8\x01\x02\x85R.";
 * const value = loads(Uint8Array.from(pickle, (c) => c.charCodeAt(0)));
 * ok(value instanceof PickleDate);
 * equal(String(value), "2024-01-02");
 * equal(JSON.stringify({ day: value }), '{"day":"2024-01-02"}');
 * ```
 */
export class PickleDate {
  /** Year, 1 to 9999. */
  readonly year: number;
  /** Month, 1 to 12. */
  readonly month: number;
  /** Day of the month, 1 to 31. */
  readonly day: number;

  /**
   * Makes a date.
   *
   * @param year Year.
   * @param month Month, 1 to 12.
   * @param day Day, 1 to 31.
   */
  constructor(year: number, month: number, day: number) {
    this.year = year;
    this.month = month;
    this.day = day;
  }

  /**
   * Python's `isoformat()`.
   *
   * @returns `YYYY-MM-DD`.
   */
  toString(): string {
    return `${pad(this.year, 4)}-${pad(this.month, 2)}-${pad(this.day, 2)}`;
  }

  /**
   * The form JSON.stringify writes, as Python's JSON loggers do.
   *
   * @returns The `isoformat()` text.
   */
  toJSON(): string {
    return this.toString();
  }
}

/**
 * A Python `datetime.timedelta`, read from a pickle. JSON and `valueOf()`
 * give its `total_seconds()`; `String()` gives Python's `str()`.
 *
 * @example
 * ```ts
 * import { PickleTimedelta } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * const d = new PickleTimedelta(1, 3723, 500_000);
 * equal(String(d), "1 day, 1:02:03.500000");
 * equal(JSON.stringify(d), "90123.5");
 * equal(+d, 90123.5);
 * ```
 */
export class PickleTimedelta {
  /** Days (may be negative). */
  readonly days: number;
  /** Seconds, 0 to 86399. */
  readonly seconds: number;
  /** Microseconds, 0 to 999999. */
  readonly microseconds: number;

  /**
   * Makes a timedelta of Python's normalized fields.
   *
   * @param days Days.
   * @param seconds Seconds, 0 to 86399.
   * @param microseconds Microseconds, 0 to 999999.
   */
  constructor(days: number, seconds: number, microseconds: number) {
    this.days = days;
    this.seconds = seconds;
    this.microseconds = microseconds;
  }

  /**
   * Python's `total_seconds()`.
   *
   * @returns The duration in seconds.
   */
  totalSeconds(): number {
    const us = (this.days * SECONDS_PER_DAY + this.seconds) * US_PER_SECOND +
      this.microseconds;
    return us / US_PER_SECOND;
  }

  /**
   * The duration in seconds, so that `+delta` is a number.
   *
   * @returns {@linkcode PickleTimedelta.totalSeconds}.
   */
  valueOf(): number {
    return this.totalSeconds();
  }

  /**
   * Python's `str()`.
   *
   * @returns `[D day[s], ]H:MM:SS[.ffffff]`.
   */
  toString(): string {
    const mm = Math.floor(this.seconds / 60);
    let s = `${Math.floor(mm / 60)}:${pad(mm % 60, 2)}:${
      pad(this.seconds % 60, 2)
    }`;
    if (this.days !== 0) {
      s = `${this.days} day${Math.abs(this.days) === 1 ? "" : "s"}, ${s}`;
    }
    return this.microseconds === 0 ? s : `${s}.${pad(this.microseconds, 6)}`;
  }

  /**
   * The form JSON.stringify writes, as Python's JSON loggers do.
   *
   * @returns The duration in seconds.
   */
  toJSON(): number {
    return this.totalSeconds();
  }
}

/**
 * A Python `datetime.timezone`: a fixed offset from UTC (`timezone.utc`
 * is the offset 0). `String()` and JSON give Python's `str()`.
 *
 * @example
 * ```ts
 * import { PickleTimedelta, PickleTimezone } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(String(new PickleTimezone(new PickleTimedelta(0, 0, 0))), "UTC");
 * equal(String(new PickleTimezone(new PickleTimedelta(-1, 81000, 0))), "UTC-01:30");
 * ```
 */
export class PickleTimezone {
  /** The offset from UTC. */
  readonly offset: PickleTimedelta;
  /** The name given to `timezone()`, if any. */
  readonly name: string | null;

  /**
   * Makes a fixed-offset timezone.
   *
   * @param offset Offset from UTC (strictly between -24 and 24 hours).
   * @param name Its name, if one was given.
   */
  constructor(offset: PickleTimedelta, name: string | null = null) {
    this.offset = offset;
    this.name = name;
  }

  /**
   * The offset as `isoformat()` writes it.
   *
   * @returns `±HH:MM`, with `:SS` and `.ffffff` when not zero.
   */
  isoOffset(): string {
    const o = this.offset;
    let us = (o.days * SECONDS_PER_DAY + o.seconds) * US_PER_SECOND +
      o.microseconds;
    const sign = us < 0 ? "-" : "+";
    us = Math.abs(us);
    const micro = us % US_PER_SECOND;
    const secs = (us - micro) / US_PER_SECOND;
    let text = `${sign}${pad(Math.floor(secs / 3600), 2)}:${
      pad(Math.floor(secs / 60) % 60, 2)
    }`;
    if (secs % 60 !== 0 || micro !== 0) text += `:${pad(secs % 60, 2)}`;
    if (micro !== 0) text += `.${pad(micro, 6)}`;
    return text;
  }

  /**
   * Python's `str()` (`tzname()`).
   *
   * @returns The name, or `UTC`, or `UTC±HH:MM`.
   */
  toString(): string {
    if (this.name !== null) return this.name;
    const o = this.offset;
    if (o.days === 0 && o.seconds === 0 && o.microseconds === 0) return "UTC";
    return `UTC${this.isoOffset()}`;
  }

  /**
   * The form JSON.stringify writes.
   *
   * @returns Python's `str()`.
   */
  toJSON(): string {
    return this.toString();
  }
}

/**
 * A Python `datetime.time`, naive or with a fixed-offset timezone.
 *
 * @example
 * ```ts
 * import { PickleTime } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(String(new PickleTime(9, 5, 0, 250)), "09:05:00.000250");
 * ```
 */
export class PickleTime {
  /** Hour, 0 to 23. */
  readonly hour: number;
  /** Minute, 0 to 59. */
  readonly minute: number;
  /** Second, 0 to 59. */
  readonly second: number;
  /** Microsecond, 0 to 999999. */
  readonly microsecond: number;
  /** The timezone, or null when naive. */
  readonly tzinfo: PickleTimezone | null;
  /** Python's `fold` (0 or 1). */
  readonly fold: number;

  /**
   * Makes a time.
   *
   * @param hour Hour.
   * @param minute Minute.
   * @param second Second.
   * @param microsecond Microsecond.
   * @param tzinfo Timezone, or null.
   * @param fold Python's fold.
   */
  constructor(
    hour: number,
    minute: number,
    second: number,
    microsecond: number,
    tzinfo: PickleTimezone | null = null,
    fold = 0,
  ) {
    this.hour = hour;
    this.minute = minute;
    this.second = second;
    this.microsecond = microsecond;
    this.tzinfo = tzinfo;
    this.fold = fold;
  }

  /**
   * Python's `isoformat()`.
   *
   * @returns `HH:MM:SS[.ffffff][±HH:MM]`.
   */
  toString(): string {
    const t = isoTime(this.hour, this.minute, this.second, this.microsecond);
    return this.tzinfo === null ? t : t + this.tzinfo.isoOffset();
  }

  /**
   * The form JSON.stringify writes, as Python's JSON loggers do.
   *
   * @returns The `isoformat()` text.
   */
  toJSON(): string {
    return this.toString();
  }
}

/**
 * A Python `datetime.datetime`, naive or with a fixed-offset timezone
 * (`timezone.utc`, `timezone(timedelta(hours=2))`). A datetime with any
 * other tzinfo (zoneinfo, pytz) stays an inert {@linkcode PickleObject}:
 * its offset cannot be known without running the sender's code.
 *
 * @example A timestamp from Python, in UTC
 * ```ts
 * import { loads, PickleDateTime } from "@pysocklog/pysocklog";
 * import { equal, ok } from "node:assert/strict";
 *
 * // pickle.dumps(datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc), 3)
 * const pickle = "\x80\x03cdatetime\ndatetime\nC\n\x07\xe8\x01\x02\x03\x04\x05" +
 *   "\x00\x00\x06cdatetime\ntimezone\ncdatetime\ntimedelta\nK\x00K\x00K\x00\x87R\x85R\x86R.";
 * const value = loads(Uint8Array.from(pickle, (c) => c.charCodeAt(0)));
 * ok(value instanceof PickleDateTime);
 * equal(String(value), "2024-01-02T03:04:05.000006+00:00");
 * equal(value.toDate().toISOString(), "2024-01-02T03:04:05.000Z");
 * ```
 */
export class PickleDateTime {
  /** Year, 1 to 9999. */
  readonly year: number;
  /** Month, 1 to 12. */
  readonly month: number;
  /** Day of the month. */
  readonly day: number;
  /** Hour. */
  readonly hour: number;
  /** Minute. */
  readonly minute: number;
  /** Second. */
  readonly second: number;
  /** Microsecond. */
  readonly microsecond: number;
  /** The timezone, or null when naive. */
  readonly tzinfo: PickleTimezone | null;
  /** Python's `fold` (0 or 1). */
  readonly fold: number;

  /**
   * Makes a datetime.
   *
   * @param date Year, month, day.
   * @param time Hour, minute, second, microsecond, timezone and fold.
   */
  constructor(date: PickleDate, time: PickleTime) {
    this.year = date.year;
    this.month = date.month;
    this.day = date.day;
    this.hour = time.hour;
    this.minute = time.minute;
    this.second = time.second;
    this.microsecond = time.microsecond;
    this.tzinfo = time.tzinfo;
    this.fold = time.fold;
  }

  /**
   * The instant as a JS Date (milliseconds; a naive datetime is read as
   * local time, as Python's `timestamp()` does).
   *
   * @returns The Date.
   */
  toDate(): Date {
    const ms = Math.floor(this.microsecond / 1000);
    if (this.tzinfo === null) {
      const d = new Date(2000, 0, 1);
      d.setFullYear(this.year, this.month - 1, this.day);
      d.setHours(this.hour, this.minute, this.second, ms);
      return d;
    }
    const d = new Date(0);
    d.setUTCFullYear(this.year, this.month - 1, this.day);
    d.setUTCHours(this.hour, this.minute, this.second, ms);
    return new Date(d.getTime() - this.tzinfo.offset.totalSeconds() * 1000);
  }

  /**
   * Python's `isoformat()`.
   *
   * @returns `YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM]`.
   */
  toString(): string {
    const date = `${pad(this.year, 4)}-${pad(this.month, 2)}-${
      pad(this.day, 2)
    }`;
    const t = isoTime(this.hour, this.minute, this.second, this.microsecond);
    return `${date}T${t}${this.tzinfo === null ? "" : this.tzinfo.isoOffset()}`;
  }

  /**
   * The form JSON.stringify writes, as Python's JSON loggers do.
   *
   * @returns The `isoformat()` text.
   */
  toJSON(): string {
    return this.toString();
  }
}

/**
 * The typed form of a call of `datetime.<name>`, or undefined to keep it
 * inert (another tzinfo than a fixed offset, or a malformed state).
 *
 * @param name `date`, `time`, `datetime`, `timedelta` or `timezone`.
 * @param args The call's arguments.
 * @returns The form, or undefined.
 */
export function dateForm(name: string, args: readonly unknown[]): unknown {
  switch (name) {
    case "date":
      return args.length === 1 ? readDate(args[0]) : undefined;
    case "time":
      return readTime(args);
    case "datetime":
      return readDateTime(args);
    case "timedelta": {
      const [d, s, us] = args;
      if (
        args.length !== 3 || !Number.isSafeInteger(d) ||
        Math.abs(d as number) > MAX_DAYS || !Number.isSafeInteger(s) ||
        (s as number) < 0 || (s as number) >= SECONDS_PER_DAY ||
        !Number.isSafeInteger(us) || (us as number) < 0 ||
        (us as number) >= US_PER_SECOND
      ) return undefined;
      return new PickleTimedelta(d as number, s as number, us as number);
    }
    case "timezone": {
      const [offset, tzname] = args;
      if (!(offset instanceof PickleTimedelta) || args.length > 2) {
        return undefined;
      }
      if (Math.abs(offset.totalSeconds()) >= SECONDS_PER_DAY) return undefined;
      if (tzname !== undefined && typeof tzname !== "string") return undefined;
      return new PickleTimezone(offset, tzname ?? null);
    }
    default:
      return undefined;
  }
}

/** The bytes of a date/time state: bytes, or a Python 2 str of latin-1. */
function stateBytes(v: unknown, n: number): Uint8Array | undefined {
  const b = typeof v === "string" ? latin1Bytes(v) : v;
  return b instanceof Uint8Array && b.length === n ? b : undefined;
}

function readDate(state: unknown): PickleDate | undefined {
  const b = stateBytes(state, 4);
  if (b === undefined) return undefined;
  const year = b[0] * 256 + b[1];
  if (year < 1 || b[2] < 1 || b[2] > 12 || b[3] < 1 || b[3] > 31) {
    return undefined;
  }
  return new PickleDate(year, b[2], b[3]);
}

function readTzinfo(v: unknown): PickleTimezone | null | undefined {
  if (v === undefined || v === null) return null;
  return v instanceof PickleTimezone ? v : undefined;
}

/** The time fields of 6 state bytes (hour's high bit is fold). */
function readClock(
  b: Uint8Array,
  at: number,
  tz: PickleTimezone | null,
  fold: number,
): PickleTime | undefined {
  const hour = b[at] & 0x7f;
  const us = (b[at + 3] << 16) | (b[at + 4] << 8) | b[at + 5];
  if (hour > 23 || b[at + 1] > 59 || b[at + 2] > 59 || us > 999_999) {
    return undefined;
  }
  return new PickleTime(hour, b[at + 1], b[at + 2], us, tz, fold);
}

function readTime(args: readonly unknown[]): PickleTime | undefined {
  if (args.length < 1 || args.length > 2) return undefined;
  const b = stateBytes(args[0], 6);
  const tz = readTzinfo(args[1]);
  if (b === undefined || tz === undefined) return undefined;
  return readClock(b, 0, tz, b[0] >> 7);
}

function readDateTime(args: readonly unknown[]): PickleDateTime | undefined {
  if (args.length < 1 || args.length > 2) return undefined;
  const b = stateBytes(args[0], 10);
  const tz = readTzinfo(args[1]);
  if (b === undefined || tz === undefined) return undefined;
  const fold = b[2] >> 7;
  const date = readDate(Uint8Array.of(b[0], b[1], b[2] & 0x7f, b[3]));
  // Hour, minute, second and microsecond are bytes 4 to 9.
  const time = readClock(b, 4, tz, fold);
  if (date === undefined || time === undefined) return undefined;
  return new PickleDateTime(date, time);
}
