/**
 * The per-model concurrency cap, shared by every replica: an endpoint with `maxConcurrency` N
 * has N slot rows in `ModelLease`, ids `${endpointName}#0` .. `#N-1`, created on first use. A
 * slot whose `expiresAt` has passed is free. Taking one is ONE statement: pick a free slot at
 * random among the first N, lock it with SKIP LOCKED (so concurrent takers never wait on each
 * other or take the same slot), stamp holder and expiry. Releasing is one UPDATE (expiry = now).
 * There is no lock shared by all calls to an endpoint: takers only ever touch different rows.
 *
 * A cap lowered below the rows that exist: slots N and above are never taken again (calls still
 * running in them finish; no new one starts until fewer than N run). A raised cap creates the
 * missing rows on demand (when no slot was free, before waiting).
 *
 * A lease expires a bit after the endpoint's timeout, and is extended while its call runs (the
 * model's retries can outlast one timeout), so the slots of a replica that died come back on
 * their own within about timeout + margin. Each lease carries a token in `holder`: a release or
 * renewal of a lease that expired and was taken by someone else changes nothing.
 *
 * No free slot: wait, woken when a call of this process releases a slot (one waiter per
 * release) and otherwise polling with jitter (for releases on other replicas), until the wait
 * limit passes or the turn's signal aborts; then ModelBusyError, a ModelUnavailableError, so the
 * turn answers with the fallback and is not charged. Waiters are not served in order across
 * replicas.
 *
 * Lease statements commit without waiting for the WAL flush (synchronous_commit off, set for
 * that statement only): a lease lost in a database crash only lets one call too many through
 * once, or keeps a slot until it expires. They run as simple queries for that (SET LOCAL and
 * the statement in one round trip), so values are inlined with pg.escapeLiteral.
 */
import { randomBytes } from "node:crypto";
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

/** The id of an endpoint's slot n (a name cannot make another name's ids: n has no "#"). */
export const slotId = (endpointName: string, n: number) => `${endpointName}#${n}`;

const lit = pg.escapeLiteral;
const ASYNC_COMMIT = "SET LOCAL synchronous_commit = off;";
const seconds = (ms: number) => Math.ceil(ms) / 1000;

/** The endpoint's slots 0..max-1 as a set of ids (a join on the primary key, not a scan of the table). */
const slotIds = (name: string, max: number) => `(SELECT ${lit(name)} || '#' || n FROM generate_series(0, ${Math.floor(max) - 1}) n)`;

function takeSql(a: { endpointName: string; holder: string; ttlMs: number; max: number }): string {
  return `${ASYNC_COMMIT}
UPDATE "ModelLease" SET "holder" = ${lit(a.holder)}, "acquiredAt" = now(), "expiresAt" = now() + make_interval(secs => ${seconds(a.ttlMs)})
 WHERE "id" = (SELECT "id" FROM "ModelLease"
                WHERE "id" IN ${slotIds(a.endpointName, a.max)} AND "endpointName" = ${lit(a.endpointName)} AND "expiresAt" <= now()
                ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING "id"`;
}

/** Creates the endpoint's missing slot rows (free); returns how many it created. */
function ensureSql(endpointName: string, max: number): string {
  return `INSERT INTO "ModelLease" ("id", "endpointName", "holder", "acquiredAt", "expiresAt")
SELECT id, ${lit(endpointName)}, '', now(), now() FROM ${slotIds(endpointName, max)} AS s(id)
ON CONFLICT ("id") DO NOTHING
RETURNING 1`;
}

export function createModelSlots(opts: ModelSlotsOptions): ModelSlots {
  const { pool, logger } = opts;
  const holder = (opts.holder ?? `${hostname()}:${process.pid}`).slice(0, 180);
  const waitMs = opts.waitMs ?? 10_000;
  const pollMs = opts.pollMs ?? 200;
  const margin = opts.leaseMarginMs ?? 5_000;
  // This process's waiters per endpoint: a release wakes the oldest one (not all of them).
  const waiters = new Map<string, (() => void)[]>();

  /** The last result of a multi-statement simple query (pg returns one result per statement). */
  async function run(sql: string): Promise<pg.QueryResult> {
    const result = (await pool.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
    return Array.isArray(result) ? result.at(-1)! : result;
  }

  async function tryAcquire(endpointName: string, max: number, lease: string, ttlMs: number): Promise<string | undefined> {
    const taken = await run(takeSql({ endpointName, holder: lease, ttlMs, max }));
    if (taken.rows[0]) return (taken.rows[0] as { id: string }).id;
    // None free: maybe none exist yet (first use, a raised cap, rows deleted by hand).
    const created = await run(ensureSql(endpointName, max));
    if (created.rowCount === 0) return undefined;
    return ((await run(takeSql({ endpointName, holder: lease, ttlMs, max }))).rows[0] as { id: string } | undefined)?.id;
  }

  function wakeOne(endpointName: string): void {
    waiters.get(endpointName)?.shift()?.();
  }

  /** Resolves after about `ms`, when this process frees a slot of the endpoint, or on abort. */
  function pause(endpointName: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let queue = waiters.get(endpointName);
      if (!queue) waiters.set(endpointName, (queue = []));
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        const list = waiters.get(endpointName);
        const at = list?.indexOf(done) ?? -1;
        if (at >= 0) list!.splice(at, 1);
        if (list?.length === 0) waiters.delete(endpointName);
        resolve();
      };
      const timer = setTimeout(done, ms);
      queue.push(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  async function acquire(endpointName: string, max: number, lease: string, ttlMs: number, signal: AbortSignal): Promise<string> {
    if (max < 1) throw new ModelBusyError(`${endpointName}: no concurrency slots configured (maxConcurrency ${max})`);
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (signal.aborted) throw new ModelBusyError(`${endpointName}: gave up waiting for a free slot (turn aborted)`);
      const id = await tryAcquire(endpointName, max, lease, ttlMs);
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
      // This lease's own holder value: release and renewal only touch the slot while it is still ours.
      const lease = `${holder}/${randomBytes(6).toString("hex")}`;
      const slot = await acquire(name, endpoint.maxConcurrency, lease, ttlMs, signal);
      const ours = `"id" = ${lit(slot)} AND "holder" = ${lit(lease)}`;
      // Keep the lease alive while a long call (retries included) runs; a failed renewal only
      // risks the cap being exceeded briefly, so it is logged and not fatal.
      const renew = setInterval(() => {
        run(`${ASYNC_COMMIT} UPDATE "ModelLease" SET "expiresAt" = now() + make_interval(secs => ${seconds(ttlMs)}) WHERE ${ours}`).catch((error: unknown) =>
          logger?.warn({ err: error, endpoint: name }, "model lease not renewed"),
        );
      }, ttlMs / 2);
      renew.unref();
      try {
        return await fn();
      } finally {
        clearInterval(renew);
        await run(`${ASYNC_COMMIT} UPDATE "ModelLease" SET "expiresAt" = now() WHERE ${ours}`).catch((error: unknown) =>
          logger?.warn({ err: error, endpoint: name }, "model lease not released; it expires on its own"),
        );
        wakeOne(name);
      }
    },
  };
}
