/**
 * This process's `RuntimeInstance` row: inserted on start, touched every interval, deleted on
 * clean shutdown. A database outage is logged and retried on the next tick (an upsert, so a
 * row that never got written, or was reaped, comes back).
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Db } from "@clawgate/db";
import { describeDbError, withTimeout } from "./db-checks.ts";
import type { Logger } from "./logger.ts";
import { VERSION } from "./version.ts";

export interface Heartbeat {
  id: string;
  stop(): Promise<void>;
}

export interface HeartbeatOptions {
  db: Db;
  logger: Logger;
  mode: string;
  intervalMs?: number;
  /** Deadline for one heartbeat write (default: the interval). */
  beatTimeoutMs?: number;
  /** How long `stop()` waits for the database (a stalled one must not block shutdown). */
  stopTimeoutMs?: number;
}

export function startHeartbeat({
  db,
  logger,
  mode,
  intervalMs = 10_000,
  beatTimeoutMs = intervalMs,
  stopTimeoutMs = 2_000,
}: HeartbeatOptions): Heartbeat {
  const id = `rt_${randomBytes(8).toString("hex")}`;
  const log = logger.child({ runtimeInstance: id });
  let inFlight: Promise<void> | undefined;
  let healthy = true;

  const beat = async () => {
    const now = new Date();
    try {
      const row = {
        id,
        hostname: hostname(),
        pid: process.pid,
        version: VERSION,
        mode,
        startedAt: now,
        heartbeatAt: now,
      };
      const upsert = db.runtimeInstance.upsert({ where: { id }, create: row, update: { heartbeatAt: now } });
      await withTimeout(upsert, beatTimeoutMs, "heartbeat");
      if (!healthy) log.info("heartbeat restored");
      healthy = true;
    } catch (error) {
      // Log the first failure of a streak, not one line per tick for the whole outage.
      if (healthy) log.warn({ error: describeDbError(error) }, "heartbeat failed; retrying every tick");
      healthy = false;
    }
  };
  const tick = () => {
    inFlight ??= beat().finally(() => (inFlight = undefined));
    return inFlight;
  };

  void tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();

  return {
    id,
    async stop() {
      clearInterval(timer);
      try {
        await withTimeout(
          (async () => {
            await inFlight;
            await db.runtimeInstance.deleteMany({ where: { id } });
          })(),
          stopTimeoutMs,
          "deleting the runtime instance row",
        );
      } catch (error) {
        log.warn({ error: describeDbError(error) }, "could not delete runtime instance row");
      }
    },
  };
}
