// The embedded state store: one JSON document, <dir>/state.json, replaced whole with
// the crash-safe write (fsync, rename) while holding <dir>/.state.lock, so a reader
// or a command killed at any point sees the old document or the new one. Named locks
// are lock files under <dir>/locks/. Watches poll the document.
import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic.js';
import { lockFile } from '../../lib/pidlock.js';
import { RevisionConflict, type Entry, type ExpectRevision, type Lock, type LockOptions, type StateStore, type Watch, type WatchEvent } from './store.js';

export const DEFAULT_VC_STATE_DIR = '/var/lib/diskless/vc';
export const STATE_FILE = 'state.json';
export const STATE_LOCK = '.state.lock';
export const LOCKS_DIR = 'locks';
export const DOCUMENT_FORMAT = 1;

interface Document {
  format: number;
  revision: number;
  entries: Record<string, { value: unknown; revision: number }>;
}

export interface FileStoreOptions {
  /** Default DEFAULT_VC_STATE_DIR. */
  dir?: string;
  /** How often a watch reads the document. */
  pollMs?: number;
  /** What this process is doing, shown to commands waiting for its locks. */
  owner?: string;
}

const EMPTY: Document = { format: DOCUMENT_FORMAT, revision: 0, entries: {} };

function parseDocument(text: string, file: string): Document {
  let doc: Document;
  try {
    doc = JSON.parse(text) as Document;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); it is only ever replaced whole, so something else wrote it`);
  }
  if (doc.format !== DOCUMENT_FORMAT) throw new Error(`${file} has format ${doc.format}; this version of diskless reads format ${DOCUMENT_FORMAT}`);
  return doc;
}

export class FileStore implements StateStore {
  readonly dir: string;
  readonly file: string;
  private readonly pollMs: number;
  private readonly owner: string;

  constructor(opts: FileStoreOptions = {}) {
    this.dir = opts.dir ?? DEFAULT_VC_STATE_DIR;
    this.file = join(this.dir, STATE_FILE);
    this.pollMs = opts.pollMs ?? 500;
    this.owner = opts.owner ?? '';
  }

  private async read(): Promise<Document> {
    try {
      return parseDocument(await readFile(this.file, 'utf8'), this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return structuredClone(EMPTY);
      throw err;
    }
  }

  private readSync(): Document {
    try {
      return parseDocument(readFileSync(this.file, 'utf8'), this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return structuredClone(EMPTY);
      throw err;
    }
  }

  /** Apply `change` to the document under the document lock and write it back. */
  private async mutate(change: (doc: Document) => boolean): Promise<number> {
    await mkdir(this.dir, { recursive: true });
    const lock = await lockFile(join(this.dir, STATE_LOCK), { owner: this.owner, name: this.file });
    try {
      const doc = await this.read();
      if (change(doc)) await writeFileAtomic(this.file, JSON.stringify(doc, null, 1) + '\n');
      return doc.revision;
    } finally {
      await lock.release();
    }
  }

  async get<T>(key: string): Promise<Entry<T> | undefined> {
    const e = (await this.read()).entries[key];
    return e && { key, value: e.value as T, revision: e.revision };
  }

  async put<T>(key: string, value: T, expect?: ExpectRevision): Promise<number> {
    return this.mutate((doc) => {
      const actual = doc.entries[key]?.revision ?? 0;
      if (expect !== undefined && expect !== actual) throw new RevisionConflict(key, expect, actual);
      doc.revision++;
      doc.entries[key] = { value, revision: doc.revision };
      return true;
    });
  }

  async delete(key: string, expect?: ExpectRevision): Promise<void> {
    await this.mutate((doc) => {
      const actual = doc.entries[key]?.revision ?? 0;
      if (expect !== undefined && expect !== actual) throw new RevisionConflict(key, expect, actual);
      if (!actual) return false;
      doc.revision++;
      delete doc.entries[key];
      return true;
    });
  }

  async list<T>(prefix: string): Promise<Entry<T>[]> {
    const doc = await this.read();
    return Object.keys(doc.entries)
      .filter((k) => k.startsWith(prefix))
      .sort()
      .map((key) => ({ key, value: doc.entries[key]!.value as T, revision: doc.entries[key]!.revision }));
  }

  lock(name: string, opts: LockOptions = {}): Promise<Lock> {
    return lockFile(join(this.dir, LOCKS_DIR, `${encodeURIComponent(name)}.lock`), { ...opts, owner: this.owner, name });
  }

  watch<T>(prefix: string, onEvent: (e: WatchEvent<T>) => void): Watch {
    let last = this.readSync();
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.read()
        .then((doc) => {
          if (doc.revision !== last.revision) for (const e of diff<T>(last, doc, prefix)) onEvent(e);
          last = doc;
        })
        .catch(() => {}) // a read racing a first write: the next poll sees it
        .finally(() => (busy = false));
    }, this.pollMs);
    return { close: () => clearInterval(timer) };
  }
}

/** The changes under `prefix` from one document to the next, in revision order. */
function diff<T>(from: Document, to: Document, prefix: string): WatchEvent<T>[] {
  const out: WatchEvent<T>[] = [];
  for (const [key, e] of Object.entries(to.entries)) {
    if (key.startsWith(prefix) && from.entries[key]?.revision !== e.revision) out.push({ type: 'put', entry: { key, value: e.value as T, revision: e.revision } });
  }
  for (const key of Object.keys(from.entries)) {
    if (key.startsWith(prefix) && !(key in to.entries)) out.push({ type: 'delete', key, revision: to.revision });
  }
  return out.sort((a, b) => (a.type === 'put' ? a.entry.revision : a.revision) - (b.type === 'put' ? b.entry.revision : b.revision));
}
