// The skips CI accepts. A test that cannot run prints one line "SKIP: <reason>";
// with CI set, scripts/test.mjs counts it as failed unless the reason matches one
// entry here. Only causes outside the project belong on this list: a tool that
// is missing, a fixture that is missing or a run without root is ours to fix.

/** @type {ReadonlyArray<{ reason: RegExp, why: string }>} */
export const ALLOWED_SKIPS = [
  {
    // test/builders/build-real.test.ts: Ubuntu's archive is a third party's server.
    reason: /^build-image ubuntu: \S+ did not answer from this machine$/,
    why: "the Ubuntu archive did not answer (a server outside the project)",
  },
];

/** The allow-list entry a SKIP reason matches, if any. */
export function allowedSkip(reason) {
  return ALLOWED_SKIPS.find((a) => a.reason.test(reason));
}
