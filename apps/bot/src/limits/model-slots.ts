/**
 * The per-model concurrency cap, shared by every replica: an endpoint with `maxConcurrency` N
 * has N slot rows in `ModelLease`, ids `${endpointName}#0` .. `#N-1`, created on first use. A
 * slot whose `expiresAt` has passed is free. Taking one is ONE statement: probe the first N
 * slots from a random start, lock the first free one with SKIP LOCKED (so concurrent takers
 * never wait on each other or take the same slot), stamp holder and expiry. Giving one back to
 * the database is one UPDATE (expiry = now). No lock is shared by all calls to an endpoint.
 *
 * In front of that, each process keeps the slots it holds for a moment: a finished call hands
 * its slot straight to a call of this process waiting for one, else keeps it idle for
 * `lingerMs` for the next call to the endpoint, and only then gives it back. Under steady load
 * a replica takes and gives back slots only when its number of calls in flight changes, with
 * no database round trip per call; the cap still holds across replicas, since a slot kept
 * idle is still leased in the database. The price: another replica can wait up to `lingerMs`
 * longer for a slot this one has stopped using.
 *
 * A cap lowered below the rows that exist: slots N and above are never taken again, and a
 * held one is given back instead of reused (calls still running in them finish; no new one
 * starts until fewer than N run). A raised cap creates the missing rows when no slot is free.
 *
 * A lease expires a bit after the endpoint's timeout and is extended while held (the model's
 * retries can outlast one timeout), so the slots of a replica that died come back on their own
 * within about timeout + margin. Each lease carries a token in `holder`: a renewal or give-back
 * of a lease that expired and was taken by someone else changes nothing.
 *
 * No free slot: wait, until a call of this process hands one over or, polling with jitter, one
 * is free in the database (given back by another replica), until the wait limit passes or the
 * turn's signal aborts; then ModelBusyError, a ModelUnavailableError, so the turn answers with
 * the fallback and is not charged. Waiters are not served in order across replicas.
 *
 * Lease statements commit without waiting for the WAL flush (synchronous_commit off for their
 * own transaction, via set_config(..., true) in RETURNING): a lease lost in a database crash
 * only lets one call too many through once, or keeps a slot until it expires.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type pg from "pg";
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
  /** How long a finished call's slot stays with this process for its next call (default 100 ms; 0: given back at once). */
  lingerMs?: number;
  /** Lease lifetime = the endpoint's timeout + this (default 5 s). */
  leaseMarginMs?: number;
  /** Used when the endpoint passed in carries no `timeoutMs` (default 30 s). */
  defaultTimeoutMs?: number;
  logger?: Logger;
}

export interface ModelSlotsHandle extends ModelSlots {
  /** Gives every idle slot back now (at shutdown, before the pool ends). */
  close(): Promise<void>;
}

/** The id of an endpoint's slot n (a name cannot make another name's ids: n has no "#"). */
export const slotId = (endpointName: string, n: number) => `${endpointName}#${n}`;

// $1 endpoint name, $2 max, $3 random start in [0, max), $4 holder (lease token), $5 ttl ms.
// generate_series drives a nested loop over the primary key that stops at the first free slot.
const TAKE = `UPDATE "ModelLease" SET "holder" = $4, "acquiredAt" = now(), "expiresAt" = now() + make_interval(secs => $5::double precision / 1000)
 WHERE "id" = (SELECT l."id" FROM generate_series(0, $2::int - 1) g(n)
                 JOIN "ModelLease" l ON l."id" = $1::text || '#' || ((g.n + $3::int) % $2::int)
                WHERE l."endpointName" = $1 AND l."expiresAt" <= now()
                LIMIT 1 FOR UPDATE OF l SKIP LOCKED)
RETURNING "id", set_config('synchronous_commit', 'off', true)`;

// Creates the missing slot rows (free); $1 name, $2 max. A concurrent insert of the same rows
// waits for the first one's commit, then skips them.
const ENSURE = `INSERT INTO "ModelLease" ("id", "endpointName", "holder", "acquiredAt", "expiresAt")
SELECT $1::text || '#' || n, $1, '', now(), now() FROM generate_series(0, $2::int - 1) n
ON CONFLICT ("id") DO NOTHING`;

// $1 id, $2 holder (lease token), $3 ttl ms.
const RENEW = `UPDATE "ModelLease" SET "expiresAt" = now() + make_interval(secs => $3::double precision / 1000)
 WHERE "id" = $1 AND "holder" = $2 RETURNING set_config('synchronous_commit', 'off', true)`;
// Truncated, not now(): the column is timestamp(3), which ROUNDS, so a plain now() could store a
// time up to 0.5 ms ahead and the slot would still look leased to a take in that half millisecond.
const GIVE_BACK = `UPDATE "ModelLease" SET "expiresAt" = date_trunc('milliseconds', now()) WHERE "id" = $1 AND "holder" = $2 RETURNING set_config('synchronous_commit', 'off', true)`;

/** A slot this process holds (leased in the database), busy or idle. */
interface Held {
  id: string;
  n: number;
  endpointName: string;
  lease: string;
  ttlMs: number;
  renew: NodeJS.Timeout;
  linger?: NodeJS.Timeout;
}

interface Endpoint {
  idle: Held[];
  /** Calls of this process waiting for a slot, oldest first: a finished call hands its slot to one. */
  waiters: ((slot: Held | undefined) => void)[];
}

export function createModelSlots(opts: ModelSlotsOptions): ModelSlotsHandle {
  const { pool, logger } = opts;
  const holder = (opts.holder ?? `${hostname()}:${process.pid}`).slice(0, 180);
  const waitMs = opts.waitMs ?? 10_000;
  const pollMs = opts.pollMs ?? 200;
  const lingerMs = opts.lingerMs ?? 100;
  const margin = opts.leaseMarginMs ?? 5_000;
  const endpoints = new Map<string, Endpoint>();
  const endpointOf = (name: string) => {
    let e = endpoints.get(name);
    if (!e) endpoints.set(name, (e = { idle: [], waiters: [] }));
    return e;
  };

  const hold = (endpointName: string, id: string, lease: string, ttlMs: number): Held => {
    // Keep the lease alive while held; a failed renewal only risks the cap being exceeded
    // briefly, so it is logged and not fatal.
    const renew = setInterval(() => {
      pool
        .query({ name: "clawgate_slot_renew", text: RENEW, values: [id, lease, ttlMs] })
        .catch((error: unknown) => logger?.warn({ err: error, endpoint: endpointName }, "model lease not renewed"));
    }, ttlMs / 2);
    renew.unref();
    return { id, n: Number(id.slice(endpointName.length + 1)), endpointName, lease, ttlMs, renew };
  };

  async function giveBack(slot: Held): Promise<void> {
    clearInterval(slot.renew);
    clearTimeout(slot.linger);
    await pool
      .query({ name: "clawgate_slot_give_back", text: GIVE_BACK, values: [slot.id, slot.lease] })
      .catch((error: unknown) =>
        logger?.warn({ err: error, endpoint: slot.endpointName }, "model lease not given back; it expires on its own"),
      );
  }

  async function take(endpointName: string, max: number, ttlMs: number): Promise<Held | undefined> {
    const lease = `${holder}/${randomBytes(6).toString("hex")}`;
    const attempt = async () =>
      (
        await pool.query<{ id: string }>({
          name: "clawgate_slot_take",
          text: TAKE,
          values: [endpointName, max, Math.floor(Math.random() * max), lease, ttlMs],
        })
      ).rows[0]?.id;
    let id = await attempt();
    if (!id) {
      // None free: maybe none exist yet (first use, a raised cap, rows deleted by hand). Try
      // again once whoever created them (this call or a concurrent one) has committed.
      await pool.query({ name: "clawgate_slot_ensure", text: ENSURE, values: [endpointName, max] });
      id = await attempt();
    }
    return id ? hold(endpointName, id, lease, ttlMs) : undefined;
  }

  /** An idle slot of this process still usable under `max` and `ttlMs`; unusable ones are given back. */
  function takeIdle(e: Endpoint, max: number, ttlMs: number): Held | undefined {
    for (let slot = e.idle.pop(); slot; slot = e.idle.pop()) {
      clearTimeout(slot.linger);
      if (slot.n < max && slot.ttlMs === ttlMs) return slot;
      void giveBack(slot);
    }
    return undefined;
  }

  /** Resolves with a slot handed over by a finished call, or with nothing after about `ms` or on abort. */
  function pause(e: Endpoint, ms: number, signal: AbortSignal): Promise<Held | undefined> {
    return new Promise((resolve) => {
      const done = (slot: Held | undefined) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        const at = e.waiters.indexOf(done);
        if (at >= 0) e.waiters.splice(at, 1);
        resolve(slot);
      };
      const onAbort = () => done(undefined);
      const timer = setTimeout(onAbort, ms);
      e.waiters.push(done);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  async function acquire(endpointName: string, max: number, ttlMs: number, signal: AbortSignal): Promise<Held> {
    if (max < 1) throw new ModelBusyError(`${endpointName}: no concurrency slots configured (maxConcurrency ${max})`);
    const e = endpointOf(endpointName);
    const idle = takeIdle(e, max, ttlMs);
    if (idle) return idle;
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (signal.aborted) throw new ModelBusyError(`${endpointName}: gave up waiting for a free slot (turn aborted)`);
      const slot = (await take(endpointName, max, ttlMs)) ?? takeIdle(e, max, ttlMs);
      if (slot) return slot;
      const left = deadline - Date.now();
      if (left <= 0) throw new ModelBusyError(`${endpointName}: all ${max} slots busy for ${waitMs} ms`);
      const handed = await pause(e, Math.min(left, pollMs * (0.5 + Math.random())), signal);
      if (handed) {
        if (!signal.aborted && handed.n < max && handed.ttlMs === ttlMs) return handed;
        void release(handed, max);
      }
    }
  }

  /** A finished call's slot: to a waiting call, else idle for `lingerMs`, else back to the database. */
  async function release(slot: Held, max: number): Promise<void> {
    const e = endpointOf(slot.endpointName);
    if (slot.n < max) {
      const waiter = e.waiters.shift();
      if (waiter) return waiter(slot);
      if (lingerMs > 0) {
        slot.linger = setTimeout(() => {
          const at = e.idle.indexOf(slot);
          if (at >= 0) e.idle.splice(at, 1);
          void giveBack(slot);
        }, lingerMs);
        e.idle.push(slot);
        return;
      }
    }
    await giveBack(slot);
  }

  return {
    async run(endpoint: { endpointName: string; maxConcurrency: number; timeoutMs?: number }, signal, fn) {
      const ttlMs = (endpoint.timeoutMs ?? opts.defaultTimeoutMs ?? 30_000) + margin;
      const slot = await acquire(endpoint.endpointName, endpoint.maxConcurrency, ttlMs, signal);
      try {
        return await fn();
      } finally {
        await release(slot, endpoint.maxConcurrency);
      }
    },
    async close() {
      const idle = [...endpoints.values()].flatMap((e) => e.idle.splice(0));
      await Promise.all(idle.map(giveBack));
    },
  };
}
