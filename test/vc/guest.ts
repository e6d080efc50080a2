// The BusyBox guest lives in tools/ so bench/vc.ts can use it too.
export * from '../../tools/vc-guest.js';
