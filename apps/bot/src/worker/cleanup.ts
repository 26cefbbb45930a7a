/**
 * The `inbound.cleanup` cron job: deletes inbound messages older than the retention (which is
 * therefore the duplicate-detection window) in small batches, and expired rate-limit rows.
 */
import type pg from "pg";
import { RATE_LIMIT_SCHEMA, RATE_LIMIT_TABLE } from "./throttle.ts";

export const CLEANUP_TASK = "inbound.cleanup";
export const MIN_RETENTION_HOURS = 2;

export async function cleanupInbound(pool: pg.Pool, retentionHours: number, batchSize = 1_000): Promise<number> {
  const hours = Math.max(retentionHours, MIN_RETENTION_HOURS);
  let deleted = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      `DELETE FROM "InboundMessage" WHERE "id" IN (
         SELECT "id" FROM "InboundMessage" WHERE "receivedAt" < now() - make_interval(hours => $1) LIMIT $2)`,
      [hours, batchSize],
    );
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) break;
  }
  await pool.query(`DELETE FROM ${RATE_LIMIT_SCHEMA}.${RATE_LIMIT_TABLE} WHERE expire < $1`, [Date.now()]);
  return deleted;
}
