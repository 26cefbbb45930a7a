/**
 * The per-model concurrency cap, shared by every replica: a `ModelLease` row per model call in
 * flight. Acquiring is one short transaction holding a transaction-scoped advisory lock on the
 * endpoint's name (so two replicas never both take the last slot): delete the endpoint's expired
 * leases, count the live ones, insert one if below `maxConcurrency`. The lease is deleted when
 * the call ends (finally).
 *
 * A lease expires a bit after the endpoint's timeout, and is extended while its call runs (the
 * model's retries can outlast one timeout), so the slots of a replica that died come back on
 * their own within about timeout + margin.
 *
 * No free slot: wait, waking when a call of this process releases a slot and otherwise polling
 * with jitter (for releases on other replicas), until the wait limit passes or the turn's signal
 * aborts; then ModelBusyError, a ModelUnavailableError, so the turn answers with the fallback
 * and is not charged. Waiters are not served in order (no fairness across replicas).
 */
import { createHash, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { hostname } from "node:os";
import pg from "pg";
import { ModelUnavailableError } from "../agent/model.ts";
import type { ModelSlots } from "../agent/tool-call.ts";
import type { Logger } from "../logger.ts";

export class ModelBusyError extends ModelUnavailableError {
  override name = "ModelBusyError";
}

export interface ModelSlotsOptions {
  pool: pg.Pool;
  /** Written into each lease (which replica holds it). Default: host:pid. */
  holder?: string;
  /** How long a call waits for a free slot before the fallback (default 10 s). */
  waitMs?: number;
  /** Poll interval for slots freed on other replicas, jittered by +-50% (default 200 ms). */
  pollMs?: number;
  /** Lease lifetime = the endpoint's timeout + this (default 5 s). */
  leaseMarginMs?: number;
  /** Used when the endpoint passed in carries no `timeoutMs` (default 30 s). */
  defaultTimeoutMs?: number;
  logger?: Logger;
}

/** Namespace of the two-key advisory locks (one-key locks, like the audit chain's, are another space). */
const LOCK_NAMESPACE = 0x6d6f_646c; // "modl"

/** The endpoint name as the second advisory lock key: 32 bits of its SHA-256. */
export const endpointLockKey = (name: string) => createHash("sha256").update(name).digest().readInt32BE(0);

/**
 * The whole acquisition as one simple-query string: one round trip, so the endpoint's lock is
 * held only while the server runs it (every replica's calls to one endpoint queue on that lock).
 * The commit does not wait for the WAL flush: a lease lost in a database crash only lets one
 * call too many through once. The CTEs share one snapshot, so `live` filters expired rows itself.
 */
function acquireSql(a: { endpointName: string; id: string; holder: string; ttlMs: number; max: number }): string {
  const lit = pg.escapeLiteral;
  const name = lit(a.endpointName);
  return `BEGIN;
SET LOCAL synchronous_commit = off;
SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${endpointLockKey(a.endpointName)});
WITH expired AS (
  DELETE FROM "ModelLease" WHERE "endpointName" = ${name} AND "expiresAt" <= now()
), live AS (
  SELECT count(*) AS n FROM "ModelLease" WHERE "endpointName" = ${name} AND "expiresAt" > now()
)
INSERT INTO "ModelLease" ("id", "endpointName", "holder", "acquiredAt", "expiresAt")
SELECT ${lit(a.id)}, ${name}, ${lit(a.holder)}, now(), now() + make_interval(secs => ${Math.ceil(a.ttlMs) / 1000})
  FROM live WHERE live.n < ${Math.floor(a.max)}
RETURNING "id";
COMMIT;`;
}

export function createModelSlots(opts: ModelSlotsOptions): ModelSlots {
  const { pool, logger } = opts;
  const holder = opts.holder ?? `${hostname()}:${process.pid}`;
  const waitMs = opts.waitMs ?? 10_000;
  const pollMs = opts.pollMs ?? 200;
  const margin = opts.leaseMarginMs ?? 5_000;
  // Slots released by this process wake its waiters at once.
  const released = new EventEmitter();
  released.setMaxListeners(0);

  /** Runs a multi-statement transaction in one round trip; rolls back what an error left open. */
  async function transaction(sql: string): Promise<pg.QueryResult<{ id: string }>[]> {
    const client = await pool.connect();
    try {
      return (await client.query(sql)) as unknown as pg.QueryResult<{ id: string }>[];
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async function tryAcquire(endpointName: string, max: number, ttlMs: number): Promise<string | undefined> {
    const results = await transaction(acquireSql({ endpointName, id: randomUUID(), holder: holder.slice(0, 200), ttlMs, max }));
    // One result per statement: the INSERT is the fourth.
    return results[3]?.rows[0]?.id;
  }

  /** Resolves after about `ms`, when this process frees a slot of the endpoint, or on abort. */
  function pause(endpointName: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        released.off(endpointName, done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      released.once(endpointName, done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  async function acquire(endpointName: string, max: number, ttlMs: number, signal: AbortSignal): Promise<string> {
    if (max < 1) throw new ModelBusyError(`${endpointName}: no concurrency slots configured (maxConcurrency ${max})`);
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (signal.aborted) throw new ModelBusyError(`${endpointName}: gave up waiting for a free slot (turn aborted)`);
      const id = await tryAcquire(endpointName, max, ttlMs);
      if (id) return id;
      const left = deadline - Date.now();
      if (left <= 0) throw new ModelBusyError(`${endpointName}: all ${max} slots busy for ${waitMs} ms`);
      await pause(endpointName, Math.min(left, pollMs * (0.5 + Math.random())), signal);
    }
  }

  return {
    async run(endpoint: { endpointName: string; maxConcurrency: number; timeoutMs?: number }, signal, fn) {
      const name = endpoint.endpointName;
      const ttlMs = (endpoint.timeoutMs ?? opts.defaultTimeoutMs ?? 30_000) + margin;
      const lease = await acquire(name, endpoint.maxConcurrency, ttlMs, signal);
      // Keep the lease alive while a long call (retries included) runs; a failed renewal only
      // risks the cap being exceeded briefly, so it is logged and not fatal.
      const renew = setInterval(() => {
        pool
          .query(`UPDATE "ModelLease" SET "expiresAt" = now() + make_interval(secs => $2::double precision / 1000) WHERE "id" = $1`, [lease, ttlMs])
          .catch((error: unknown) => logger?.warn({ err: error, endpoint: name }, "model lease not renewed"));
      }, ttlMs / 2);
      renew.unref();
      try {
        return await fn();
      } finally {
        clearInterval(renew);
        await transaction(`BEGIN; SET LOCAL synchronous_commit = off; DELETE FROM "ModelLease" WHERE "id" = ${pg.escapeLiteral(lease)}; COMMIT;`)
          .catch((error: unknown) => logger?.warn({ err: error, endpoint: name }, "model lease not released; it expires on its own"));
        released.emit(name);
      }
    },
  };
}
