// The VC state store: the seam between the VC commands and where their state lives.
// It is kept as small as etcd's own model so an etcd store (part 2) implements it as
// is: keys with JSON values, one revision counter for the whole store (a key's
// revision is the store revision of its last write, like etcd's mod_revision),
// compare-and-swap on that revision, listing by prefix, named locks that die with
// their holder (an etcd lease), and a watch on a prefix.

export interface Entry<T = unknown> {
  key: string;
  value: T;
  /** The store revision at which this key was last written. */
  revision: number;
}

/** Expected revision for a write: the key's current revision, or 0 for "must not exist". */
export type ExpectRevision = number;

export class RevisionConflict extends Error {
  constructor(
    readonly key: string,
    readonly expected: number,
    /** The key's revision now; 0 if it does not exist. */
    readonly actual: number,
  ) {
    super(
      expected === 0
        ? `${key} already exists (revision ${actual})`
        : actual === 0
          ? `${key} was deleted (expected revision ${expected})`
          : `${key} changed: expected revision ${expected}, it is at ${actual} (another command wrote it; read it again)`,
    );
    this.name = 'RevisionConflict';
  }
}

export type { Lock, LockOptions } from '../../lib/pidlock.js';
import type { Lock, LockOptions } from '../../lib/pidlock.js';

export type WatchEvent<T = unknown> = { type: 'put'; entry: Entry<T> } | { type: 'delete'; key: string; revision: number };

export interface Watch {
  close(): void;
}

export interface StateStore {
  get<T>(key: string): Promise<Entry<T> | undefined>;
  /**
   * Write `value` if the key is at `expect` (0: does not exist yet); without `expect`,
   * write unconditionally. Returns the new revision; throws RevisionConflict.
   */
  put<T>(key: string, value: T, expect?: ExpectRevision): Promise<number>;
  /** Delete the key if it is at `expect` (without it, unconditionally); deleting a missing key is not an error without `expect`. */
  delete(key: string, expect?: ExpectRevision): Promise<void>;
  /** Every key starting with `prefix`, sorted by key. */
  list<T>(prefix: string): Promise<Entry<T>[]>;
  /** Wait for and hold the named lock; it is released when the holder process dies. */
  lock(name: string, opts?: LockOptions): Promise<Lock>;
  /** Call `onEvent` for each change under `prefix` after this call. */
  watch<T>(prefix: string, onEvent: (e: WatchEvent<T>) => void): Watch;
}

/**
 * Read-modify-write with CAS, retried on conflict: `change` gets the current entry
 * (undefined if none) and returns the new value, or undefined to write nothing.
 */
export async function update<T>(
  store: StateStore,
  key: string,
  change: (current: Entry<T> | undefined) => T | undefined,
  attempts = 10,
): Promise<Entry<T> | undefined> {
  for (let i = 0; ; i++) {
    const cur = await store.get<T>(key);
    const value = change(cur);
    if (value === undefined) return cur;
    try {
      const revision = await store.put(key, value, cur?.revision ?? 0);
      return { key, value, revision };
    } catch (err) {
      if (!(err instanceof RevisionConflict) || i + 1 >= attempts) throw err;
    }
  }
}
