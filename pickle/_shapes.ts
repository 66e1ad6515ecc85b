// Copyright the pysocklog authors. MIT license.
// Dict templates: a dict built in one go (DICT, or the SETITEMS that fills
// a fresh EMPTY_DICT) whose keys repeat those of earlier dicts, as every
// record of a sender does, is made by one object literal compiled for its
// keys. Storing 23 record keys one by one into a fresh object cost 25-33%
// of `loads` on CPython's record frame (760 of 2,300 ns); a literal makes
// the same object in about 40-100 ns.
//
// Safety. The literal's source holds only keys that are plain identifiers
// ([A-Za-z_$][A-Za-z0-9_$]*, at most 64 characters), written as JSON string
// literals, never `__proto__` (a literal `__proto__:` would set the
// prototype), and the values by position (`a[1]`, `a[3]`...): nothing from
// the data is ever code. A dict with any other key is built key by key, as
// before. Compiles are bounded: a key set must be seen twice first, at most
// SHAPE_SLOTS templates are kept, and a compile costs credit earned by
// decoding dicts, so a sender varying its keys on purpose makes at most one
// compile per COMPILE_EVERY dicts. Where code cannot be compiled (a host
// forbidding `new Function`), templates are off and nothing else changes.

/** Dicts with fewer keys are built key by key (the literal does not pay). */
const MIN_KEYS = 6;
/** Dicts with more keys are built key by key (bounds a compile's size). */
const MAX_KEYS = 64;
/** Templates kept; the oldest is replaced. */
const SHAPE_SLOTS = 32;
/** Key sets counted while waiting for a second sighting. */
const MAX_CANDIDATES = 256;
/** A compile needs one credit; each dict offered earns 1/COMPILE_EVERY. */
const COMPILE_EVERY = 16;
/** Most credit saved up (compiles possible in a burst). */
const MAX_CREDIT = SHAPE_SLOTS;
/** Keys a template may hold. */
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;

/** Makes a dict of the template's keys from the values at odd positions. */
type Make = (items: unknown[]) => Record<string, unknown>;

interface Shape {
  keys: string[];
  make: Make;
}

const shapes: Shape[] = [];
let nextSlot = 0;
const candidates = new Map<string, number>();
let credit = MAX_CREDIT;
let enabled = true;

/**
 * A plain object of the key/value pairs `items` (key, value, key, value...)
 * made by a template, or undefined when no template applies (then the
 * caller builds it key by key). Keys must be unique; the caller has not
 * checked them, so this does.
 *
 * @param items Keys and values, alternating.
 * @returns The dict, or undefined.
 */
export function fromShape(
  items: unknown[],
): Record<string, unknown> | undefined {
  const n = items.length >> 1;
  if (n < MIN_KEYS || n > MAX_KEYS || (items.length & 1) !== 0 || !enabled) {
    return undefined;
  }
  const first = items[0];
  for (let s = 0; s < shapes.length; s++) {
    const shape = shapes[s];
    const keys = shape.keys;
    if (keys.length !== n || keys[0] !== first) continue;
    let same = true;
    for (let i = 1; i < n; i++) {
      if (keys[i] !== items[2 * i]) {
        same = false;
        break;
      }
    }
    if (same) return shape.make(items);
  }
  credit = Math.min(MAX_CREDIT, credit + 1 / COMPILE_EVERY);
  return learn(items, n);
}

/** Counts a new key set; compiles a template on its second sighting. */
function learn(
  items: unknown[],
  n: number,
): Record<string, unknown> | undefined {
  const keys: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const k = items[2 * i];
    if (typeof k !== "string" || k === "__proto__" || !IDENTIFIER.test(k)) {
      return undefined;
    }
    keys[i] = k;
  }
  // Identifiers hold no comma: the joined keys name the key set.
  const id = keys.join(",");
  const seen = candidates.get(id) ?? 0;
  if (seen === 0) {
    if (candidates.size >= MAX_CANDIDATES) candidates.clear();
    candidates.set(id, 1);
    return undefined;
  }
  if (credit < 1 || new Set(keys).size !== n) return undefined;
  credit -= 1;
  candidates.delete(id);
  const make = compile(keys);
  if (make === undefined) return undefined;
  const shape = { keys, make };
  if (shapes.length < SHAPE_SLOTS) shapes.push(shape);
  else shapes[nextSlot] = shape;
  nextSlot = (nextSlot + 1) % SHAPE_SLOTS;
  return make(items);
}

function compile(keys: string[]): Make | undefined {
  const fields = keys.map((k, i) => `${JSON.stringify(k)}: a[${2 * i + 1}]`);
  try {
    return new Function(
      "a",
      `"use strict"; return { ${fields.join(", ")} };`,
    ) as Make;
  } catch {
    enabled = false;
    return undefined;
  }
}
