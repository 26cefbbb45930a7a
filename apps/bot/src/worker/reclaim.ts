/**
 * Jobs of a replica that died: graphile-worker frees a crashed worker's lock only after 4 hours,
 * so every replica sweeps for the locks of replicas whose heartbeat stopped and releases them
 * (`force_unlock_workers`, then a `jobs:insert` nudge so an idle worker takes them now).
 *
 * Dead means "its heartbeat did not change while this replica watched for `deadAfterMs`",
 * measured on this process's own clock between successful sweeps: no clock comparison across
 * hosts, and a database stall (no replica can beat, no sweep succeeds) starts the watch over
 * rather than making every replica look dead when it ends. A replica that is alive but slow
 * keeps beating and keeps its jobs; `deadAfterMs` is several heartbeat intervals, a margin for
 * GC pauses and slow writes. A lock held by a worker no replica row names (a replica that died
 * before its first beat listed its workers, or whose row was deleted) is released after it was
 * seen unclaimed for as long.
 *
 * A rerun of an inbound job finds its row PROCESSING and proceeds; the reply stored under its
 * idempotency key keeps it from answering twice (worker/handle-inbound.ts).
 */
import type pg from "pg";
import { describeDbError } from "../db-checks.ts";
import type { Logger } from "../logger.ts";

export interface ReclaimOptions {
  pool: pg.Pool;
  logger: Logger;
  /** This process's RuntimeInstance id: never judged by itself. */
  selfId: string;
  deadAfterMs: number;
  sweepMs?: number;
  now?: () => number;
}

export interface Reclaimer {
  /** One sweep (the timer runs them; tests call it). Resolves to the worker ids it released. */
  sweep(): Promise<string[]>;
  stop(): void;
}

interface ReplicaRow {
  id: string;
  beat: string;
  workerIds: string[] | null;
}

const REPLICAS = `SELECT "id", "heartbeatAt"::text AS "beat", "queueWorkerIds" AS "workerIds" FROM "RuntimeInstance"`;
const LOCK_OWNERS = `
SELECT locked_by AS "owner" FROM graphile_worker._private_jobs WHERE locked_by IS NOT NULL
UNION SELECT locked_by FROM graphile_worker._private_job_queues WHERE locked_by IS NOT NULL`;
const RELEASE = `
WITH released AS (
  SELECT count(*)::int AS n FROM graphile_worker._private_jobs WHERE locked_by = ANY($1::text[])
), unlocked AS (SELECT graphile_worker.force_unlock_workers($1::text[]))
SELECT n, pg_notify('jobs:insert', json_build_object('count', n)::text) FROM released, unlocked`;

export function startReclaimer({
  pool,
  logger,
  selfId,
  deadAfterMs,
  sweepMs = Math.max(1_000, Math.floor(deadAfterMs / 5)),
  now = () => performance.now(),
}: ReclaimOptions): Reclaimer {
  const log = logger.child({ component: "reclaim" });
  // Replica id -> the heartbeat value last seen and when it was first seen (this process's clock).
  const beats = new Map<string, { beat: string; since: number }>();
  // Lock owner no replica names -> when it was first seen so.
  const unclaimed = new Map<string, number>();
  let running: Promise<string[]> | undefined;
  let failing = false;
  let lastSweep: number | undefined;

  const forget = () => {
    beats.clear();
    unclaimed.clear();
  };
  const sweepOnce = async (): Promise<string[]> => {
    const start = now();
    try {
      const replicas = (await pool.query<ReplicaRow>(REPLICAS)).rows;
      const owners = (await pool.query<{ owner: string }>(LOCK_OWNERS)).rows.map((r) => r.owner);
      const t = now();
      // A slow read (a stall that ended while it waited) or a gap between sweeps (this process
      // was paused) saw nobody beat through no fault of theirs: watch again from now.
      if (t - start > sweepMs || (lastSweep !== undefined && start - lastSweep > 3 * sweepMs)) forget();
      lastSweep = t;
      const alive = new Set<string>();
      const named = new Set<string>();
      const deadReplicas: string[] = [];
      for (const r of replicas) {
        const seen = beats.get(r.id);
        if (!seen || seen.beat !== r.beat) beats.set(r.id, { beat: r.beat, since: t });
        const dead = r.id !== selfId && t - (beats.get(r.id)?.since ?? t) >= deadAfterMs;
        for (const w of r.workerIds ?? []) (dead ? named : alive).add(w);
        if (dead && (r.workerIds ?? []).some((w) => owners.includes(w))) deadReplicas.push(r.id);
      }
      for (const id of beats.keys()) if (!replicas.some((r) => r.id === id)) beats.delete(id);
      const release: string[] = [];
      for (const owner of owners) {
        if (alive.has(owner)) continue;
        if (named.has(owner)) {
          release.push(owner);
          continue;
        }
        const since = unclaimed.get(owner) ?? t;
        unclaimed.set(owner, since);
        if (t - since >= deadAfterMs) release.push(owner);
      }
      for (const owner of unclaimed.keys()) if (!owners.includes(owner) || alive.has(owner)) unclaimed.delete(owner);
      if (failing) log.info("reclaim sweep restored");
      failing = false;
      if (release.length === 0) return [];
      const { rows } = await pool.query<{ n: number }>(RELEASE, [release]);
      for (const owner of release) unclaimed.delete(owner);
      log.warn(
        { replicas: deadReplicas, workers: release.length, jobs: rows[0]?.n ?? 0 },
        "released the jobs of queue workers whose replica stopped heartbeating",
      );
      return release;
    } catch (error) {
      // Nothing seen before the failure counts: after a stall every replica gets a full window.
      forget();
      lastSweep = undefined;
      if (!failing) log.warn({ error: describeDbError(error) }, "reclaim sweep failed; retrying");
      failing = true;
      return [];
    }
  };
  const sweep = () => (running ??= sweepOnce().finally(() => (running = undefined)));
  const timer = setInterval(() => void sweep(), sweepMs);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
