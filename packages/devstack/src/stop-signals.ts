/**
 * When a long-running dev command (`npm start`) must stop: SIGINT (Ctrl-C), SIGTERM, or its parent
 * going away (npm killed with SIGKILL, or by the terminal's hangup: nobody would forward a signal
 * any more, and the children would run on, reparented). SIGHUP itself is left alone so `nohup`
 * keeps working. `stop` may be called more than once; make it idempotent.
 *
 * npm delivers SIGINT/SIGTERM to the shell running the script, so the script must `exec` the
 * command (package.json: `"start": "exec node ..."`): a plain `sh -c` dies of SIGTERM without
 * passing it on.
 */
export function onStopRequest(stop: () => void, { pollMs = 500 }: { pollMs?: number } = {}): () => void {
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const signal of signals) process.on(signal, stop);
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== parent) stop();
  }, pollMs);
  watch.unref();
  return () => {
    for (const signal of signals) process.off(signal, stop);
    clearInterval(watch);
  };
}
