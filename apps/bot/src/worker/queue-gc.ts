/**
 * The `queue.gc` cron job: deletes conversation queues that hold no job. graphile-worker's
 * getJob locks every free queue row on each call, so rows left from conversations seen hours
 * ago would cost every job. Its own GC_JOB_QUEUES races `add_jobs` (a job committed right after
 * the GC's snapshot would point at a deleted queue and never run); here the rows are locked
 * first and checked for jobs in a later statement, and ingest locks the queue rows it uses
 * before adding jobs (ingress/ingest.ts), so either the GC waits and sees the job, or the
 * ingest waits and creates the row again.
 */
import type pg from "pg";

export const QUEUE_GC_TASK = "queue.gc";

export async function collectEmptyQueues(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<{ id: number }>(
      "SELECT id FROM graphile_worker._private_job_queues WHERE locked_at IS NULL FOR UPDATE SKIP LOCKED",
    );
    const { rowCount } = await client.query(
      `DELETE FROM graphile_worker._private_job_queues q WHERE q.id = ANY($1::int[])
         AND NOT EXISTS (SELECT 1 FROM graphile_worker._private_jobs j WHERE j.job_queue_id = q.id)`,
      [rows.map((r) => r.id)],
    );
    await client.query("COMMIT");
    return rowCount ?? 0;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
