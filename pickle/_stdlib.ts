// Copyright the pysocklog authors. MIT license.
// Python's standard-library values, read as data: the typed JS forms of
// Decimal, UUID, PurePath and its subclasses, set and frozenset (the date
// and time forms are in _datetime.ts), and the table that turns a call of
// one of these globals (REDUCE, NEWOBJ) into its form, or into the plain
// data it stands for (bytes, OrderedDict/defaultdict/Counter as a dict,
// deque as a list). Nothing is imported or called: each form is computed
// from the bytes the pickle holds.
//
// Each form renders as Python's JSON loggers (python-json-logger,
// structlog) render the value: `JSON.stringify` gives the `isoformat()`
// text of dates and times, the seconds of a timedelta, the text of a
// Decimal, UUID or path, and an array for a set; `String()` gives the text
// form (Python's `str()`).

import { PickleGlobal, PickleObject } from "./_inert.ts";
import { dateForm } from "./_datetime.ts";
import { latin1, latin1Bytes } from "./_text.ts";

/**
 * A Python `decimal.Decimal`, kept as its exact text.
 *
 * @example
 * ```ts
 * import { PickleDecimal } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(JSON.stringify({ price: new PickleDecimal("1.50") }), '{"price":"1.50"}');
 * ```
 */
export class PickleDecimal {
  /** Python's `str()` of the Decimal. */
  readonly text: string;

  /**
   * Makes a Decimal.
   *
   * @param text Its text.
   */
  constructor(text: string) {
    this.text = text;
  }

  /**
   * Python's `str()`.
   *
   * @returns The text.
   */
  toString(): string {
    return this.text;
  }

  /**
   * The form JSON.stringify writes, as Python's JSON loggers do.
   *
   * @returns The text.
   */
  toJSON(): string {
    return this.text;
  }
}

/**
 * A Python `uuid.UUID`. Python builds it as an object whose state holds
 * the 128-bit int, so it stays a {@linkcode PickleObject} (of `uuid.UUID`)
 * with that state; `String()` and JSON give the UUID's text once the state
 * is there.
 *
 * @example
 * ```ts
 * import { loads, PickleUUID } from "@pysocklog/pysocklog";
 * import { equal, ok } from "node:assert/strict";
 *
 * // pickle.dumps(uuid.UUID(int=5), 2)
 * const pickle = "\x80\x02cuuid\nUUID\n)\x81}X\x03\x00\x00\x00intK\x05sb.";
 * const value = loads(Uint8Array.from(pickle, (c) => c.charCodeAt(0)));
 * ok(value instanceof PickleUUID);
 * equal(String(value), "00000000-0000-0000-0000-000000000005");
 * ```
 */
export class PickleUUID extends PickleObject {
  /**
   * The 128-bit int, or undefined when the state does not hold one.
   *
   * @returns The int.
   */
  get int(): bigint | undefined {
    const state = this.state;
    if (state === null || typeof state !== "object") return undefined;
    const v = state instanceof Map
      ? state.get("int")
      : (state as Record<string, unknown>).int;
    if (typeof v !== "number" && typeof v !== "bigint") return undefined;
    if (typeof v === "number" && !Number.isSafeInteger(v)) return undefined;
    const n = BigInt(v);
    return n >= 0n && n < 1n << 128n ? n : undefined;
  }

  /**
   * Python's `str()`.
   *
   * @returns `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, or the inert form.
   */
  override toString(): string {
    const n = this.int;
    if (n === undefined) return super.toString();
    const h = n.toString(16).padStart(32, "0");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${
      h.slice(16, 20)
    }-${h.slice(20)}`;
  }

  /**
   * The form JSON.stringify writes, as Python's JSON loggers do.
   *
   * @returns The UUID's text, or the inert form.
   */
  override toJSON(): string | Record<string, unknown> {
    return this.int === undefined ? super.toJSON() : this.toString();
  }
}

/**
 * A Python `pathlib` path (`PurePath` and its subclasses: `PosixPath`,
 * `WindowsPath`, `PurePosixPath`, `PureWindowsPath`, `Path`), kept as its
 * text. Nothing touches the file system.
 *
 * @example
 * ```ts
 * import { PicklePath } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * const p = new PicklePath("PosixPath", ["/", "srv", "app.py"]);
 * equal(String(p), "/srv/app.py");
 * equal(JSON.stringify([p]), '["/srv/app.py"]');
 * ```
 */
export class PicklePath {
  /** The class, e.g. `PosixPath`. */
  readonly className: string;
  /** The path's parts, as Python's `parts`. */
  readonly parts: readonly string[];
  /** The path's text, as Python's `str()`. */
  readonly path: string;

  /**
   * Makes a path from its parts.
   *
   * @param className The pathlib class.
   * @param parts The parts (`PurePath.parts`).
   */
  constructor(className: string, parts: readonly string[]) {
    this.className = className;
    this.parts = parts;
    this.path = joinParts(parts, className.includes("Windows"));
  }

  /**
   * Python's `str()`.
   *
   * @returns The path text.
   */
  toString(): string {
    return this.path;
  }

  /**
   * The form JSON.stringify writes, as Python's JSON loggers do.
   *
   * @returns The path text.
   */
  toJSON(): string {
    return this.path;
  }
}

/** Joins `parts` as PurePath does: an anchor or a drive is not followed by a separator. */
function joinParts(parts: readonly string[], windows: boolean): string {
  const sep = windows ? "\\" : "/";
  let out = "";
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (
      i === 0 || out.endsWith(sep) || (windows && /^[A-Za-z]:$/.test(out))
    ) out += p;
    else out += sep + p;
  }
  return out === "" ? "." : out;
}

/**
 * A Python `set` or `frozenset`: a `Set` that JSON writes as an array, as
 * Python's JSON loggers do.
 *
 * @example
 * ```ts
 * import { loads, PickleSet } from "@pysocklog/pysocklog";
 * import { equal, ok } from "node:assert/strict";
 *
 * // pickle.dumps({1, 2}, 4)
 * const value = loads(new Uint8Array([
 *   0x80, 4, 0x95, 9, 0, 0, 0, 0, 0, 0, 0, 0x8f, 0x94, 0x28, 0x4b, 1, 0x4b, 2, 0x90, 0x2e,
 * ]));
 * ok(value instanceof PickleSet && value instanceof Set);
 * equal(JSON.stringify(value), "[1,2]");
 * ```
 */
export class PickleSet<T = unknown> extends Set<T> {
  /** Whether it is a `frozenset`. */
  readonly frozen: boolean;

  /**
   * Makes a set.
   *
   * @param items Its items.
   * @param frozen Whether it is a frozenset.
   */
  constructor(items?: Iterable<T> | null, frozen = false) {
    super(items);
    this.frozen = frozen;
  }

  /**
   * The form JSON.stringify writes, as Python's JSON loggers do.
   *
   * @returns The items as an array.
   */
  toJSON(): T[] {
    return [...this];
  }
}

/** Globals whose calls are read as data or as a typed form. */
const FORMS = new Set([
  "_codecs.encode",
  "__builtin__.bytes",
  "builtins.bytes",
  "__builtin__.bytearray",
  "builtins.bytearray",
  "__builtin__.set",
  "builtins.set",
  "__builtin__.frozenset",
  "builtins.frozenset",
  "__builtin__.object",
  "builtins.object",
  "copy_reg._reconstructor",
  "copyreg._reconstructor",
  "datetime.date",
  "datetime.datetime",
  "datetime.time",
  "datetime.timedelta",
  "datetime.timezone",
  "decimal.Decimal",
  "uuid.UUID",
  "collections.OrderedDict",
  "collections.defaultdict",
  "collections.Counter",
  "collections.deque",
]);

const PATH_CLASSES = new Set([
  "PurePath",
  "PurePosixPath",
  "PureWindowsPath",
  "Path",
  "PosixPath",
  "WindowsPath",
]);

function isPathClass(g: PickleGlobal): boolean {
  return (g.module === "pathlib" || g.module.startsWith("pathlib.")) &&
    PATH_CLASSES.has(g.name);
}

/**
 * Whether a global is one whose values are read as data (allowed with
 * `globals: "reject"`).
 *
 * @param g The global.
 * @returns `true` for a data global.
 */
export function isDataGlobal(g: PickleGlobal): boolean {
  return FORMS.has(g.toString()) || isPathClass(g);
}

/**
 * The typed form or data a call makes, or undefined to keep it inert.
 * `charge(n)` counts work that reads values already built.
 *
 * @param g The global called.
 * @param args The call's arguments.
 * @param charge Counts units of work.
 * @returns The value, or undefined.
 */
export function callForm(
  g: PickleGlobal,
  args: readonly unknown[],
  charge: (n: number) => void,
): unknown {
  const name = g.toString();
  if (name === "builtins.getattr" || name === "__builtin__.getattr") {
    // getattr(cls, "name"), as protocols 2 and 3 name a nested global
    // (zoneinfo.ZoneInfo._unpickle): the same inert global protocol 4 names.
    const [of, attr] = args;
    if (args.length !== 2 || !(of instanceof PickleGlobal)) return undefined;
    if (typeof attr !== "string") return undefined;
    return new PickleGlobal(of.module, `${of.name}.${attr}`);
  }
  if (!FORMS.has(name)) {
    if (!isPathClass(g) || !args.every((a) => typeof a === "string")) {
      return undefined;
    }
    charge(args.length);
    for (const a of args) charge((a as string).length);
    return new PicklePath(g.name, [...args as string[]]);
  }
  switch (name) {
    case "_codecs.encode": {
      const [s, encoding] = args;
      if (
        typeof s === "string" &&
        (encoding === "latin1" || encoding === "latin-1")
      ) {
        charge(s.length);
        return latin1Bytes(s);
      }
      return undefined;
    }
    case "__builtin__.bytes":
    case "builtins.bytes":
    case "__builtin__.bytearray":
    case "builtins.bytearray": {
      if (args.length === 0) return new Uint8Array(0);
      const [v, encoding] = args;
      if (v instanceof Uint8Array) {
        charge(v.length);
        return v.slice();
      }
      if (
        typeof v === "string" &&
        (encoding === "latin1" || encoding === "latin-1")
      ) {
        charge(v.length);
        return latin1Bytes(v);
      }
      if (Array.isArray(v)) {
        charge(v.length);
        if (v.every((x) => typeof x === "number" && x >= 0 && x < 256)) {
          return Uint8Array.from(v as number[]);
        }
      }
      return undefined;
    }
    case "__builtin__.set":
    case "builtins.set":
    case "__builtin__.frozenset":
    case "builtins.frozenset": {
      const frozen = g.name === "frozenset";
      if (args.length === 0) return new PickleSet(null, frozen);
      const [v] = args;
      if (!Array.isArray(v)) return undefined;
      charge(v.length);
      return new PickleSet(v, frozen);
    }
    case "copy_reg._reconstructor":
    case "copyreg._reconstructor": {
      // copyreg._reconstructor(cls, object, None): protocols 0 and 1 make
      // an object of a class this way; read it as NEWOBJ would.
      const [cls, base, state] = args;
      if (!(cls instanceof PickleGlobal) || !(base instanceof PickleGlobal)) {
        return undefined;
      }
      // A dict or list subclass passes its items as the state of the base.
      const of = base.name;
      const builtin = base.module === "builtins" ||
        base.module === "__builtin__";
      const obj = newForm(cls, []);
      if (state === null || state === undefined) return obj;
      if (builtin && of === "dict" && isDict(state)) obj.dictitems = state;
      else if (builtin && of === "list" && Array.isArray(state)) {
        obj.listitems = state;
      } else return newForm(cls, [state]);
      return obj;
    }
    case "datetime.date":
    case "datetime.time":
    case "datetime.datetime":
    case "datetime.timedelta":
    case "datetime.timezone":
      return dateForm(g.name, args);
    case "decimal.Decimal":
      return args.length === 1 && typeof args[0] === "string"
        ? new PickleDecimal(args[0])
        : undefined;
    case "collections.OrderedDict":
    case "collections.defaultdict":
      // Their items follow as SETITEM(S) on the value made here.
      return args.length <= (name.endsWith("OrderedDict") ? 0 : 1)
        ? {}
        : undefined;
    case "collections.Counter":
      if (args.length === 0) return {};
      return args.length === 1 ? copyDict(args[0], charge) : undefined;
    case "collections.deque": {
      // deque(iterable=(), maxlen); its items follow as APPEND(S).
      if (args.length > 2) return undefined;
      const items = args[0] ?? [];
      if (!Array.isArray(items)) return undefined;
      charge(items.length);
      return [...items];
    }
    default:
      return undefined;
  }
}

/**
 * The object `NEWOBJ` makes of `cls`: a {@linkcode PickleUUID} for
 * `uuid.UUID`, else an inert {@linkcode PickleObject}.
 *
 * @param cls The class.
 * @param args The arguments of `cls.__new__`.
 * @returns The object.
 */
export function newForm(cls: PickleGlobal, args: unknown[]): PickleObject {
  return cls.module === "uuid" && cls.name === "UUID"
    ? new PickleUUID(cls, args)
    : new PickleObject(cls, args);
}

function isDict(
  v: unknown,
): v is Record<string, unknown> | Map<unknown, unknown> {
  return v instanceof Map ||
    (v !== null && typeof v === "object" &&
      Object.getPrototypeOf(v) === Object.prototype);
}

function copyDict(
  v: unknown,
  charge: (n: number) => void,
): Record<string, unknown> | Map<unknown, unknown> | undefined {
  if (v instanceof Map) {
    charge(v.size);
    return new Map(v);
  }
  if (
    v === null || typeof v !== "object" ||
    Object.getPrototypeOf(v) !== Object.prototype
  ) return undefined;
  const out: Record<string, unknown> = {};
  const keys = Object.keys(v);
  charge(keys.length);
  for (const k of keys) {
    Object.defineProperty(out, k, {
      value: (v as Record<string, unknown>)[k],
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * Bytes as the CLI marks them in JSON: an object with the base64 of the
 * bytes, so that they cannot be taken for a str (`JSON.stringify` would
 * write a `Uint8Array` as an object of numbered keys).
 *
 * @example
 * ```ts
 * import { bytesToJSON } from "@pysocklog/pysocklog";
 * import { deepEqual } from "node:assert/strict";
 *
 * deepEqual(bytesToJSON(new Uint8Array([0, 255])), { $bytes: "AP8=" });
 * ```
 *
 * @param bytes The bytes.
 * @returns `{ "$bytes": "<base64>" }`.
 */
export function bytesToJSON(bytes: Uint8Array): { $bytes: string } {
  const b = bytes as Uint8Array & { toBase64?: () => string };
  if (typeof b.toBase64 === "function") return { $bytes: b.toBase64() };
  return { $bytes: btoa(latin1(bytes)) };
}
