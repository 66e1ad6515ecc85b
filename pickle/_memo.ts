// Copyright the pysocklog authors. MIT license.
// The memo of one pickle: the index of each container written, by identity.

/** Entries a memo keeps in a list, looked up by scanning, before a Map. */
const MEMO_LIST_SIZE = 16;

/**
 * Per-pickle encoder state: the memo, the index of each container written,
 * by identity. Indexes are given in order (the next is `size`). A record's
 * extras hold a few containers: a scan of a short list finds them faster
 * than a Map, which must give every fresh object an identity hash first
 * (~100 ns a container); past {@linkcode MEMO_LIST_SIZE} it is a Map.
 */
export class Memo {
  readonly #list: object[] = [];
  #map: Map<object, number> | null = null;

  /** The number of entries: the index the next one gets. */
  get size(): number {
    return this.#map === null ? this.#list.length : this.#map.size;
  }

  /** The index of `obj`, if it has one. */
  get(obj: object): number | undefined {
    if (this.#map !== null) return this.#map.get(obj);
    const list = this.#list;
    for (let i = 0; i < list.length; i++) if (list[i] === obj) return i;
    return undefined;
  }

  /** Gives `obj` the next index (`size`). */
  add(obj: object): void {
    if (this.#map !== null) {
      this.#map.set(obj, this.#map.size);
      return;
    }
    const list = this.#list;
    list.push(obj);
    if (list.length > MEMO_LIST_SIZE) {
      this.#map = new Map(list.map((o, i) => [o, i]));
      list.length = 0;
    }
  }

  /** Forgets every entry. */
  clear(): void {
    this.#list.length = 0;
    this.#map = null;
  }
}
