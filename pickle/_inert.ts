// Copyright the pysocklog authors. MIT license.
// The inert values of the decoder: a Python global a pickle names
// (PickleGlobal) and an object it would have built by calling one
// (PickleObject). Nothing is imported or called; they only keep what the
// pickle said, and render it for String() and JSON.

/**
 * A Python global named by a pickle (`module.name`), never imported.
 *
 * @example
 * ```ts
 * import { PickleGlobal } from "@pysocklog/pysocklog";
 * import { equal } from "node:assert/strict";
 *
 * equal(String(new PickleGlobal("datetime", "datetime")), "datetime.datetime");
 * ```
 */
export class PickleGlobal {
  /** The module, e.g. `datetime`. */
  readonly module: string;
  /** The name in the module, e.g. `datetime`. */
  readonly name: string;

  /**
   * Names a global.
   *
   * @param module The module.
   * @param name The name in the module.
   */
  constructor(module: string, name: string) {
    this.module = module;
    this.name = name;
  }

  /**
   * The global's full name.
   *
   * @returns `module.name`.
   */
  toString(): string {
    return `${this.module}.${this.name}`;
  }

  /**
   * The form JSON.stringify writes.
   *
   * @returns `{ "__global__": "module.name" }`.
   */
  toJSON(): { __global__: string } {
    return { __global__: this.toString() };
  }
}

/**
 * An object a pickle would have built by calling a global (`REDUCE`,
 * `NEWOBJ`, `INST`, `OBJ`) and setting its state (`BUILD`) and items
 * (`SETITEM(S)` of a dict subclass, `APPEND(S)` of a list subclass).
 * Nothing was called: it only keeps what the pickle said.
 *
 * @example Read an object of a class only the sender knows
 * ```ts
 * import { loads, PickleObject } from "@pysocklog/pysocklog";
 * import { deepEqual, equal, ok } from "node:assert/strict";
 *
 * // pickle.dumps(app.Attrs(user="ann"), 2), where Attrs is a dict subclass
 * const pickle = "\x80\x02capp\nAttrs\n)\x81X\x04\x00\x00\x00userX\x03\x00\x00\x00anns.";
 * const value = loads(Uint8Array.from(pickle, (c) => c.charCodeAt(0)));
 * ok(value instanceof PickleObject);
 * equal(String(value.global), "app.Attrs");
 * deepEqual(value.dictitems, { user: "ann" });
 * ```
 */
export class PickleObject {
  /** The global that would have been called. */
  readonly global: PickleGlobal;
  /** Its positional arguments. */
  readonly args: unknown[];
  /** Its keyword arguments (`NEWOBJ_EX`), if any. */
  kwargs?: unknown;
  /** The state `BUILD` would have set, if any. */
  state?: unknown;
  /** Items `APPEND(S)` added (the object is a list subclass), if any. */
  listitems?: unknown[];
  /** Items `SETITEM(S)` set (the object is a dict subclass), if any. */
  dictitems?: Record<string, unknown> | Map<unknown, unknown>;

  /**
   * Records a call that was not made.
   *
   * @param global The global.
   * @param args Its positional arguments.
   */
  constructor(global: PickleGlobal, args: unknown[]) {
    this.global = global;
    this.args = args;
  }

  /**
   * A short text form.
   *
   * @returns `module.name(...)`.
   */
  toString(): string {
    return `${this.global}(...)`;
  }

  /**
   * The form JSON.stringify writes.
   *
   * @returns `{ "__global__": "module.name", args, kwargs?, state?,
   *   listitems?, dictitems? }` (a `Map` of items as an array of pairs); a
   *   subclass that knows the value (`PickleUUID`) gives its text.
   */
  toJSON(): Record<string, unknown> | string {
    const out: Record<string, unknown> = {
      __global__: this.global.toString(),
      args: this.args,
    };
    if (this.kwargs !== undefined) out.kwargs = this.kwargs;
    if (this.state !== undefined) out.state = this.state;
    if (this.listitems !== undefined) out.listitems = this.listitems;
    if (this.dictitems !== undefined) {
      out.dictitems = this.dictitems instanceof Map
        ? [...this.dictitems]
        : this.dictitems;
    }
    return out;
  }
}
