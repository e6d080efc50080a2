// A node's report: GET /report/<mac>/<what>[?msg=TEXT], sent by the initrd's /init
// (init, and its failures: sha256, fetch, retry) and by the image's report script (up).
// Pure: the path in, the report or the reason it is refused out. The message is cut to
// MAX_MESSAGE characters and control characters become spaces, so a log line stays one.
import { normalizeMac } from '../../cluster/addr.js';
import { REPORT_WHATS, type ReportWhat } from '../events.js';

export const MAX_MESSAGE = 300; // characters

export type Report = { mac: string; what: ReportWhat; message?: string };

const USAGE = `reports are /report/<mac>/<${REPORT_WHATS.join('|')}>[?msg=TEXT]`;

/** `parts` are the path's segments after "report"; `query` is the raw text after "?". */
export function parseReport(parts: readonly string[], query: string): Report | { error: string } {
  if (parts.length !== 2) return { error: USAGE };
  const mac = normalizeMac(parts[0]!);
  if (!mac) return { error: `${JSON.stringify(parts[0]!.slice(0, 40))} is not a MAC address; ${USAGE}` };
  const what = parts[1] as ReportWhat;
  if (!REPORT_WHATS.includes(what)) return { error: `no report ${JSON.stringify(parts[1]!.slice(0, 40))}; ${USAGE}` };
  // URLSearchParams never throws: bad percent-encoding is kept as it is.
  let message = new URLSearchParams(query).get('msg') ?? undefined;
  if (message !== undefined) {
    // eslint-disable-next-line no-control-regex
    message = [...message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')].slice(0, MAX_MESSAGE).join('').trim() || undefined;
  }
  return { mac, what, message };
}
