// Option negotiation as a pure function: what the client asked for, what we know
// about the file, and our limits in; the OACK contents and the transfer settings out.
import { DEFAULT_BLKSIZE, MAX_BLKSIZE, type TftpMode, type TftpOptions } from './packet.js';

export interface NegotiationLimits {
  maxBlksize: number;
  maxWindowsize: number;
  /** Our retransmit timeout when the client does not send `timeout`. */
  defaultTimeoutMs: number;
  /** The largest `timeout` (seconds) we use; a client asking more gets this, echoed in the OACK. */
  maxTimeoutS: number;
}

export interface Negotiated {
  /** Options to put in the OACK; undefined when nothing was accepted (then DATA 1 answers the RRQ). */
  oack: TftpOptions | undefined;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
}

export const DEFAULT_LIMITS: NegotiationLimits = {
  maxBlksize: MAX_BLKSIZE,
  maxWindowsize: 64, // blocks; larger windows only grow bursts past socket buffers
  defaultTimeoutMs: 1000, // ms
  maxTimeoutS: 5, // seconds; RFC 2349 allows up to 255, which with backoff held a slot for hours
};

/**
 * `size` is the number of octets we will send, or undefined when it is not known
 * up front (a generated stream, or netascii where the conversion changes the length).
 * Unknown options are ignored (RFC 2347 §2); the others are echoed, clamped to our limits.
 */
export function negotiate(asked: TftpOptions, file: { size: number | undefined; mode: TftpMode }, limits: NegotiationLimits = DEFAULT_LIMITS): Negotiated {
  const oack: TftpOptions = {};
  let blksize = DEFAULT_BLKSIZE;
  let windowsize = 1;
  let timeoutMs = limits.defaultTimeoutMs;
  // RFC 2348: the server may answer with a smaller blksize than asked, never larger.
  if (asked.blksize !== undefined) blksize = oack.blksize = Math.min(asked.blksize, limits.maxBlksize);
  // RFC 7440 §4: same rule for windowsize.
  if (asked.windowsize !== undefined) windowsize = oack.windowsize = Math.min(asked.windowsize, limits.maxWindowsize);
  // RFC 2349 §3 wants the OACK to echo the client's timeout. We cap it instead, and the OACK
  // says the value we use: a client that cannot accept it may end the transfer with an ERROR 8.
  if (asked.timeout !== undefined) {
    oack.timeout = Math.min(asked.timeout, limits.maxTimeoutS);
    timeoutMs = oack.timeout * 1000;
  }
  // RFC 2349 §4: in a RRQ the client sends tsize 0 and the server answers with the size;
  // with no size to give, the option is left out of the OACK.
  if (asked.tsize !== undefined && file.size !== undefined) oack.tsize = file.size;
  return { oack: Object.keys(oack).length > 0 ? oack : undefined, blksize, windowsize, timeoutMs };
}
