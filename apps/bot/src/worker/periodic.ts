/**
 * The queue's periodic jobs (retention, queue GC, approval sweep), added by every replica for
 * the next boundary of their period under one job key each: replicas converge on one job per
 * boundary (`preserve_run_at`), and a replica that dies leaves the others adding them.
 *
 * Not graphile-worker's cron: in 0.16 a database outage fails its cron loop, and the runner's
 * `cron.promise.finally(...)` leaves that rejection unhandled, which ends the Node process
 * (found by bench/faults: two of three replicas exited during a PostgreSQL stall).
 */
import type { Runner } from "graphile-worker";
import { describeDbError } from "../db-checks.ts";
import type { Logger } from "../logger.ts";

export interface PeriodicJob {
  task: string;
  everyMs: number;
  maxAttempts: number;
}

/** The first boundary of `everyMs` strictly after `now` (UTC epoch multiples, like cron's minutes). */
export const nextBoundary = (now: number, everyMs: number) => (Math.floor(now / everyMs) + 1) * everyMs;

export function schedulePeriodic(
  addJob: Runner["addJob"],
  jobs: readonly PeriodicJob[],
  logger: Logger,
  { checkEveryMs = 15_000, now = Date.now }: { checkEveryMs?: number; now?: () => number } = {},
): () => void {
  let failing = false;
  const tick = async () => {
    try {
      for (const job of jobs)
        await addJob(
          job.task,
          {},
          {
            jobKey: job.task,
            jobKeyMode: "preserve_run_at",
            runAt: new Date(nextBoundary(now(), job.everyMs)),
            maxAttempts: job.maxAttempts,
          },
        );
      if (failing) logger.info("periodic jobs scheduled again");
      failing = false;
    } catch (error) {
      if (!failing) logger.warn({ err: describeDbError(error) }, "periodic jobs not scheduled; retrying");
      failing = true;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), checkEveryMs);
  timer.unref();
  return () => clearInterval(timer);
}
