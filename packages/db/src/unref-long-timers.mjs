// Preloaded into the Prisma CLI child by deployMigrations(). Prisma 6.19's wasm schema engine
// leaves a 10 s timeout armed after `migrate deploy` has finished, so the process lingers ~10 s
// after its work is done. Unref'ing long timers keeps them working as timeouts (they still fire
// while queries are in flight, which keep the process alive) without holding an idle process open.
const setTimeoutOriginal = globalThis.setTimeout;
globalThis.setTimeout = function setTimeoutUnrefLong(callback, ms, ...args) {
  const timer = setTimeoutOriginal(callback, ms, ...args);
  if (typeof ms === "number" && ms >= 5_000) timer.unref();
  return timer;
};
