/**
 * The runtime's `PolicyStore`, started in the background: a database that is down at start is
 * retried (as the queue does) while the HTTP server answers `/ready` 503 naming `snapshot`.
 * Once loaded, the store keeps the last good snapshot through outages.
 *
 * Safe-mode expiry: `decide` judges each activation's expiry by the clock, so an expired one stops
 * applying at once on every replica. A timer at the snapshot's next expiry also closes it in the
 * history (`closeExpiredSafeMode`: one replica wins, the others find nothing), which bumps the
 * revision so every replica reloads a snapshot without it, and tells `onChange` listeners (the
 * queue sends the ops-chat notices).
 */
import { nextSafeModeExpiry, PolicyStore, type PolicySnapshot } from "@clawgate/core";
import { closeExpiredSafeMode } from "@clawgate/core/safe-mode.ts";
import type { Db } from "@clawgate/db";
import { describeDbError } from "../db-checks.ts";
import type { Logger } from "../logger.ts";
import type { CheckResult } from "../db-checks.ts";

/** What the worker and the heartbeat need: the snapshot in memory, or null before the first load. */
export interface PolicyView {
  snapshot(): PolicySnapshot | null;
  /** Called after every reload and at every safe-mode expiry; returns the unsubscribe. */
  onChange?(listener: () => void): () => void;
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
  /** Close expired safe-mode activations at their expiry (default true). */
  closeExpired?: boolean;
}

/** Node timers hold at most ~24.8 days; a later expiry is re-armed when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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

  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) l();
  };
  let expiryTimer: NodeJS.Timeout | undefined;
  const armExpiry = () => {
    clearTimeout(expiryTimer);
    const snapshot = ready ? store.current() : null;
    const next = snapshot && nextSafeModeExpiry(snapshot.safeMode, Date.now());
    if (!next || stopped) return;
    // A little after the expiry: the sweep compares with its own clock.
    const delay = Math.min(Math.max(0, next.getTime() - Date.now()) + 25, MAX_TIMER_MS);
    expiryTimer = setTimeout(() => {
      log.info({ expiresAt: next.toISOString() }, "safe-mode activation expired; no longer applied");
      if (opts.closeExpired !== false)
        void closeExpiredSafeMode(opts.db)
          .then((closed) => closed.length > 0 && log.info({ closed }, "expired safe-mode activations closed"))
          .catch((error: unknown) =>
            log.warn({ error: describeDbError(error) }, "could not close expired safe mode; the sweep retries"),
          );
      changed();
      armExpiry();
    }, delay);
    expiryTimer.unref();
  };

  store.on("reload", (snapshot, previous) => {
    log.info({ revision: snapshot.revision, previous }, "policy snapshot reloaded");
    armExpiry();
    changed();
  });
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
        armExpiry();
        changed();
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
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      stopped = true;
      clearTimeout(expiryTimer);
      wake?.();
      await store.stop();
    },
  };
}

export const snapshotCheck = (view: PolicyView) => (): CheckResult => {
  const snapshot = view.snapshot();
  return snapshot ? { ok: true, revision: snapshot.revision } : { ok: false, error: "policy snapshot not loaded" };
};
