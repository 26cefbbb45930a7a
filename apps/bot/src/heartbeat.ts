/**
 * This process's `RuntimeInstance` row: inserted on start, touched every interval and after each
 * policy reload (with the config revision it enforces, for "applied on N of N replicas"),
 * deleted on clean shutdown. A database outage is logged and retried on the next tick (an
 * upsert, so a row that never got written, or was reaped, comes back).
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Db } from "@clawgate/db";
import { describeDbError, withTimeout } from "./db-checks.ts";
import type { Logger } from "./logger.ts";
import { VERSION } from "./version.ts";

export interface Heartbeat {
  id: string;
  /** Beats now (a new revision should show up in the console without waiting a tick). */
  beat(): Promise<void>;
  stop(): Promise<void>;
}

export interface HeartbeatOptions {
  db: Db;
  logger: Logger;
  mode: string;
  /** The config revision this process enforces (null before its first snapshot). */
  appliedRevision?: () => number | null;
  /** This process's graphile-worker ids: survivors release their jobs once the beats stop (worker/reclaim.ts). */
  queueWorkerIds?: () => string[];
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
  appliedRevision = () => null,
  queueWorkerIds = () => [],
  intervalMs = 3_000,
  beatTimeoutMs = intervalMs,
  stopTimeoutMs = 2_000,
}: HeartbeatOptions): Heartbeat {
  const id = `rt_${randomBytes(8).toString("hex")}`;
  const log = logger.child({ runtimeInstance: id });
  let inFlight: Promise<void> | undefined;
  let healthy = true;
  let stopped = false;

  const beat = async () => {
    const now = new Date();
    const revision = appliedRevision();
    const workerIds = queueWorkerIds();
    try {
      const row = {
        id,
        hostname: hostname(),
        pid: process.pid,
        version: VERSION,
        mode,
        startedAt: now,
        heartbeatAt: now,
        appliedRevision: revision,
        queueWorkerIds: workerIds,
      };
      const upsert = db.runtimeInstance.upsert({
        where: { id },
        create: row,
        update: { heartbeatAt: now, appliedRevision: revision, queueWorkerIds: workerIds },
      });
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
    beat: async () => {
      await inFlight;
      // A beat after stop would put back the row that stop deletes.
      if (!stopped) await tick();
    },
    async stop() {
      stopped = true;
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
