// Copyright the pysocklog authors. MIT license.
// Walks over a decoded value, done once at STOP: the nesting check (so that
// code walking the result cannot overflow the stack) and the replacement of
// dicts that became Maps. Both are iterative and visit each object once.

import { fail } from "./_fail.ts";
import { PickleGlobal, PickleObject } from "./_inert.ts";

/**
 * Fails when the value nests deeper than `maxDepth` (iteratively; cycles
 * allowed).
 *
 * @param value The decoded value.
 * @param maxDepth The deepest nesting allowed.
 */
export function checkDepth(value: unknown, maxDepth: number): void {
  if (value === null || typeof value !== "object") return;
  // Fast path: a dict or list of scalars, or of scalars and containers of
  // scalars (a typical record; one with a list in `args` or in an extra).
  if (maxDepth >= 2 && isShallow(value)) return;
  if (!hasObjectChild(value)) return;
  const seen = new Set<object>([value]);
  const stack: [object, number][] = [[value, 1]];
  const visit = (v: unknown, depth: number) => {
    if (v === null || typeof v !== "object" || seen.has(v)) return;
    if (depth > maxDepth) {
      fail(`Value nests deeper than maxDepth (${maxDepth})`);
    }
    seen.add(v);
    stack.push([v, depth]);
  };
  while (stack.length > 0) {
    const [obj, depth] = stack.pop()!;
    forEachChild(obj, (v) => visit(v, depth + 1));
  }
}

/** Whether no child of a dict or list has an object child itself. */
function isShallow(obj: object): boolean {
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      const v = obj[i];
      if (v !== null && typeof v === "object" && hasObjectChild(v)) {
        return false;
      }
    }
    return true;
  }
  if (Object.getPrototypeOf(obj) !== Object.prototype) return false;
  const rec = obj as Record<string, unknown>;
  for (const k in rec) {
    const v = rec[k];
    if (v !== null && typeof v === "object" && hasObjectChild(v)) {
      return false;
    }
  }
  return !Object.hasOwn(obj, "__proto__");
}

function hasObjectChild(obj: object): boolean {
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      const v = obj[i];
      if (v !== null && typeof v === "object") return true;
    }
    return false;
  }
  if (
    obj instanceof Map || obj instanceof Set || obj instanceof PickleObject
  ) return true;
  if (obj instanceof Uint8Array || obj instanceof PickleGlobal) return false;
  const rec = obj as Record<string, unknown>;
  for (const k in rec) {
    const v = rec[k];
    if (v !== null && typeof v === "object") return true;
  }
  // An own "__proto__" data property is not seen by for...in's lookups.
  return Object.hasOwn(obj, "__proto__");
}

function forEachChild(obj: object, fn: (v: unknown) => void): void {
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) fn(obj[i]);
  } else if (obj instanceof Map) {
    for (const [k, v] of obj) {
      fn(k);
      fn(v);
    }
  } else if (obj instanceof Set) {
    for (const v of obj) fn(v);
  } else if (obj instanceof PickleObject) {
    fn(obj.args);
    fn(obj.kwargs);
    fn(obj.state);
    fn(obj.listitems);
    fn(obj.dictitems);
  } else if (!(obj instanceof Uint8Array || obj instanceof PickleGlobal)) {
    for (const k of Object.keys(obj)) fn((obj as Record<string, unknown>)[k]);
  }
}

/**
 * Replaces dicts that became Maps (a non-str key came after they were
 * made) wherever the old object is referenced.
 *
 * @param value The decoded value.
 * @param fwd Each old dict and the Map it became.
 * @returns The value with the Maps in place.
 */
export function fixForward(
  value: unknown,
  fwd: Map<object, Map<unknown, unknown>>,
): unknown {
  const swap = (v: unknown) => fwd.get(v as object) ?? v;
  const root = swap(value);
  if (root === null || typeof root !== "object") return root;
  const seen = new Set<object>([root]);
  const todo: object[] = [root];
  while (todo.length > 0) {
    const obj = todo.pop()!;
    if (Array.isArray(obj)) {
      const frozen = Object.isFrozen(obj);
      for (let i = 0; i < obj.length; i++) {
        const s = swap(obj[i]);
        if (s !== obj[i] && !frozen) obj[i] = s;
        visit(s);
      }
    } else if (obj instanceof Map) {
      for (const [k, v] of obj) {
        const s = swap(v);
        if (s !== v) obj.set(k, s);
        visit(k);
        visit(s);
      }
    } else if (obj instanceof Set) {
      for (const v of obj) visit(v);
    } else if (obj instanceof PickleObject) {
      visit(obj.args);
      obj.state = swap(obj.state);
      visit(obj.state);
      visit(obj.kwargs);
      visit(obj.listitems);
      if (obj.dictitems !== undefined) {
        obj.dictitems = swap(obj.dictitems) as typeof obj.dictitems;
        visit(obj.dictitems);
      }
    } else if (!(obj instanceof Uint8Array || obj instanceof PickleGlobal)) {
      const rec = obj as Record<string, unknown>;
      for (const k of Object.keys(rec)) {
        const s = swap(rec[k]);
        if (s !== rec[k]) {
          Object.defineProperty(rec, k, {
            value: s,
            writable: true,
            enumerable: true,
            configurable: true,
          });
        }
        visit(s);
      }
    }
  }
  return root;

  function visit(v: unknown) {
    if (v !== null && typeof v === "object" && !seen.has(v)) {
      seen.add(v);
      todo.push(v);
    }
  }
}
