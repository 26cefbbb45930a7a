/**
 * What /metrics reads from the database at scrape time: the shared queue (graphile-worker's jobs
 * table) and the replicas' heartbeat rows. Each is one small aggregate query; metrics.ts gives
 * each a 1 s deadline, so a stalled database leaves the gauges at their last values.
 */
import type pg from "pg";
import type { QueueStats, ReplicaStats } from "./metrics.ts";

// Due (run_at passed), not taken, attempts left. A per-conversation queue's later jobs count as
// waiting while an earlier one runs: they are waiting. `oldest` in seconds since it fell due.
const QUEUE_SQL = `
SELECT t.identifier AS task,
       count(*) FILTER (WHERE j.locked_at IS NULL AND j.attempts < j.max_attempts AND j.run_at <= now())::int AS jobs,
       coalesce(extract(epoch FROM now() - min(j.run_at) FILTER (
         WHERE j.locked_at IS NULL AND j.attempts < j.max_attempts AND j.run_at <= now())), 0)::float8 AS oldest,
       count(*) FILTER (WHERE j.attempts >= j.max_attempts)::int AS failed
FROM graphile_worker._private_jobs j
JOIN graphile_worker._private_tasks t ON t.id = j.task_id
GROUP BY t.identifier`;

export async function readQueueStats(pool: pg.Pool): Promise<QueueStats> {
  const { rows } = await pool.query<{ task: string; jobs: number; oldest: number; failed: number }>(QUEUE_SQL);
  return {
    waiting: rows.map((r) => ({ task: r.task, jobs: r.jobs, oldestSeconds: Math.max(0, r.oldest) })),
    failed: rows.reduce((n, r) => n + r.failed, 0),
  };
}

const REPLICA_SQL = `
SELECT (SELECT coalesce(max(id), 0) FROM "ConfigRevision")::int AS "latestRevision",
       count(*) FILTER (WHERE "heartbeatAt" >= now() - make_interval(secs => $1::float8 / 1000))::int AS live,
       count(*) FILTER (WHERE "heartbeatAt" < now() - make_interval(secs => $1::float8 / 1000))::int AS stale
FROM "RuntimeInstance"`;

/** `deadAfterMs`: a heartbeat older than this is stale (REPLICA_DEAD_AFTER_MS). */
export async function readReplicaStats(pool: pg.Pool, deadAfterMs: number): Promise<ReplicaStats> {
  const { rows } = await pool.query<ReplicaStats>(REPLICA_SQL, [deadAfterMs]);
  return rows[0] ?? { latestRevision: 0, live: 0, stale: 0 };
}
