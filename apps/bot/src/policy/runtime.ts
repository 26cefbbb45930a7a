/**
 * The runtime's `PolicyStore`, started in the background: a database that is down at start is
 * retried (as the queue does) while the HTTP server answers `/ready` 503 naming `snapshot`.
 * Once loaded, the store keeps the last good snapshot through outages.
 */
import { PolicyStore, type PolicySnapshot } from "@clawgate/core";
import type { Db } from "@clawgate/db";
import { describeDbError } from "../db-checks.ts";
import type { Logger } from "../logger.ts";
import type { CheckResult } from "../db-checks.ts";

/** What the worker and the heartbeat need: the snapshot in memory, or null before the first load. */
export interface PolicyView {
  snapshot(): PolicySnapshot | null;
}

export interface PolicyRuntime extends PolicyView {
  store: PolicyStore;
  /** Resolves once the first snapshot is loaded (never rejects; pending while the DB is down). */
  loaded: Promise<void>;
  stop(): Promise<void>;
}

export interface PolicyRuntimeOptions {
  db: Db;
  databaseUrl: string;
  logger: Logger;
  retryDelayMs?: number;
  pollIntervalMs?: number;
}

export function startPolicyRuntime(opts: PolicyRuntimeOptions): PolicyRuntime {
  const log = opts.logger.child({ component: "policy" });
  const store = new PolicyStore({
    db: opts.db,
    databaseUrl: opts.databaseUrl,
    ...(opts.pollIntervalMs ? { pollIntervalMs: opts.pollIntervalMs } : {}),
  });
  let ready = false;
  let stopped = false;
  let wake: (() => void) | undefined;
  let listenHealthy = true;

  store.on("reload", (snapshot, previous) =>
    log.info({ revision: snapshot.revision, previous }, "policy snapshot reloaded"),
  );
  store.on("reloadError", (error) =>
    log.warn({ error: describeDbError(error) }, "policy reload failed; keeping the last good snapshot"),
  );
  store.on("listenError", (error) => {
    if (listenHealthy)
      log.warn(
        { error: describeDbError(error) },
        "policy LISTEN lost; reconnecting (the revision poll covers the gap)",
      );
    listenHealthy = false;
  });
  store.on("listening", () => (listenHealthy = true));

  const loaded = (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        await store.start();
        if (stopped) return void (await store.stop());
        ready = true;
        log.info({ revision: store.revision }, "policy snapshot loaded");
        return;
      } catch (error) {
        if (failures++ === 0) log.warn({ error: describeDbError(error) }, "policy snapshot not loaded; retrying");
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, opts.retryDelayMs ?? 2_000).unref();
        });
      }
    }
  })();

  return {
    store,
    loaded,
    snapshot: () => (ready ? store.current() : null),
    async stop() {
      stopped = true;
      wake?.();
      await store.stop();
    },
  };
}

export const snapshotCheck = (view: PolicyView) => (): CheckResult => {
  const snapshot = view.snapshot();
  return snapshot ? { ok: true, revision: snapshot.revision } : { ok: false, error: "policy snapshot not loaded" };
};
