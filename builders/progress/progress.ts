// What a long step says of its progress, from its tool's own output (apt.ts,
// squashfs.ts): a line for a person, and the share done when it is known, from which
// lib/progress.ts works out an ETA.
export interface Progress {
  text: string;
  /** 0..1 of the work; absent while the whole is not known yet. */
  fraction?: number;
}
