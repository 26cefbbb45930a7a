/**
 * The `inbound.cleanup` periodic job: deletes expired rate-limit rows. (Inbound messages are the
 * retention purge's, `retention.purge`: core retention.ts, with the other kinds of data.)
 */
import type pg from "pg";
import { RATE_LIMIT_SCHEMA, RATE_LIMIT_TABLE } from "./throttle.ts";

export const CLEANUP_TASK = "inbound.cleanup";
export const RETENTION_TASK = "retention.purge";

export async function cleanupRateLimits(pool: pg.Pool): Promise<void> {
  await pool.query(`DELETE FROM ${RATE_LIMIT_SCHEMA}.${RATE_LIMIT_TABLE} WHERE expire < $1`, [Date.now()]);
}
