/**
 * The job queue in this process: graphile-worker's migrations (under an advisory lock, so
 * replicas starting together take turns), our rate-limit table, then the runner with the
 * inbound handler, the approval executor, the retention purge and the approval sweep (cron and
 * once at start). A database that is down at start is retried in the background: the HTTP
 * server keeps answering (/ready says "queue" not running).
 */
import { EventEmitter } from "node:events";
import type { Db } from "@clawgate/db";
import { createAgent, type Agent, type AgentSettings } from "../agent/index.ts";
import { createModelSlots } from "../limits/model-slots.ts";
import { catalogCache } from "../agent/catalog.ts";
import { APPROVAL_EXECUTE_TASK, createApprovalExecutor } from "../approvals/execute.ts";
import { APPROVAL_SWEEP_TASK, sweepApprovals } from "../approvals/sweep.ts";
import { APPROVAL_NOTIFY_TASK, createApprovalNotifier } from "../approvals/notify.ts";
import { DingTalkOpenApi, postSessionWebhook } from "@clawgate/dingtalk";
import {
  Logger as WorkerLogger,
  run,
  runMigrations,
  type Runner,
  type TaskList,
  type WorkerEvents,
} from "graphile-worker";
import type pg from "pg";
import { createPgPool } from "../db-pool.ts";
import { describeDbError } from "../db-checks.ts";
import type { Env } from "../env.ts";
import { INBOUND_TASK } from "../ingress/ingest.ts";
import type { Logger } from "../logger.ts";
import { observeModelCall, type Metrics } from "../metrics.ts";
import type { PolicyView } from "../policy/runtime.ts";
import { purgeRetention } from "@clawgate/core/retention.ts";
import { RUNTIME_ACTOR } from "../runtime-actor.ts";
import { cleanupRateLimits, CLEANUP_TASK, RETENTION_TASK } from "./cleanup.ts";
import type { WorkerDeps } from "./deps.ts";
import { createInboundHandler } from "./handle-inbound.ts";
import { createAnnouncer } from "./announce.ts";
import { collectEmptyQueues, QUEUE_GC_TASK } from "./queue-gc.ts";
import { OVERVIEW_ROLLUP_TASK, pruneRollups, rollHours } from "@clawgate/core/console/rollup.ts";
import { POLICY_CHANGES_GC_TASK, pruneRuleChanges } from "@clawgate/core/policy/snapshot.ts";
import { createMcpSync, MCP_SYNC_EVERY_MS, MCP_SYNC_TASK } from "./mcp-sync.ts";
import { schedulePeriodic, type PeriodicJob } from "./periodic.ts";
import { SAFE_MODE_SWEEP_TASK, sweepSafeMode } from "./ops-notices.ts";
import type { Senders } from "./reply.ts";
import { createThrottle, RATE_LIMIT_DDL, throttleLimits, type ThrottleLimits } from "./throttle.ts";

export type QueueEnv = Partial<
  Pick<
    Env,
    | "DINGTALK_MODE"
    | "DINGTALK_CARD_ROUTE_KEY"
    | "DINGTALK_CARD_CALLBACK_SECRET"
    | "CLAWGATE_CONSOLE_URL"
    | "CLAWGATE_AUDIT_SIGNING_KEY"
  >
> &
  Pick<
    Env,
    | "DATABASE_URL"
    | "DINGTALK_APP_KEY"
    | "DINGTALK_APP_SECRET"
    | "DINGTALK_API_BASE"
    | "DINGTALK_WEBHOOK_HOSTS"
    | "WORKER_CONCURRENCY"
    | "OUTBOUND_ROBOT_PER_SECOND"
    | "OUTBOUND_CONVERSATION_PER_MINUTE"
  >;

export interface QueueOptions {
  env: QueueEnv;
  db: Db;
  logger: Logger;
  metrics: Metrics;
  /** The in-memory policy every inbound message is decided on. */
  policy: PolicyView;
  /** Answers allowed messages; by default the agent loop against the routed model. */
  agent?: Agent;
  /** The default agent's settings (serve: from its env, `agentSettings`); defaults otherwise. */
  agentSettings?: AgentSettings;
  /** Replaces the real DingTalk senders (tests). */
  senders?: Senders;
  limits?: ThrottleLimits;
  /** Per-conversation backlog cap (worker/backlog.ts); unset: off. */
  backlogCap?: number;
  pollIntervalMs?: number;
  retryDelayMs?: number;
  /** Called with the new runner's worker ids once it runs (serve beats at once to publish them). */
  onWorkers?: (workerIds: string[]) => void;
}

export interface Queue {
  pool: pg.Pool;
  running(): boolean;
  /** The graphile-worker ids of the running runner's workers (the heartbeat publishes them). */
  workerIds(): string[];
  stop(): Promise<void>;
}

const MIGRATION_LOCK = 7_346_201_903; // any constant: "clawgate queue setup"

function openApiOf(env: QueueEnv): DingTalkOpenApi | undefined {
  return env.DINGTALK_APP_KEY && env.DINGTALK_APP_SECRET
    ? new DingTalkOpenApi({
        appKey: env.DINGTALK_APP_KEY,
        appSecret: env.DINGTALK_APP_SECRET,
        baseUrl: env.DINGTALK_API_BASE,
        timeoutMs: 5_000,
      })
    : undefined;
}

export function realSenders(env: QueueEnv, openApi = openApiOf(env)): Senders {
  return { webhook: (url, message) => postSessionWebhook(url, message, { timeoutMs: 5_000 }), openApi };
}

function workerLogger(logger: Logger): WorkerLogger {
  const log = logger.child({ component: "queue" });
  return new WorkerLogger((scope) => (level, message) => {
    const fields = { taskIdentifier: scope.taskIdentifier, jobId: scope.jobId };
    if (level === "error") log.error(fields, message);
    else if (level === "warning") log.warn(fields, message);
    else log.debug(fields, message); // "Completed task ..." per job: debug, not info
  });
}

/** graphile-worker's schema and our rate-limit table, one replica at a time. */
export async function prepareQueueSchema(pool: pg.Pool, logger?: WorkerLogger): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await runMigrations({ pgPool: pool, ...(logger ? { logger } : {}) });
      await client.query(RATE_LIMIT_DDL);
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

export function startQueue(opts: QueueOptions): Queue {
  const { env, db, logger, metrics } = opts;
  const log = logger.child({ component: "queue" });
  const concurrency = env.WORKER_CONCURRENCY;
  // Not the ingress pool: jobs must never starve the acknowledgement path of connections.
  // One connection per job plus a few: a reply's send holds one across its DingTalk call and
  // takes its throttle quota on another, so fewer could deadlock. The agent's per-turn
  // statements (memory, invocations, model-slot leases) run here too, one short statement at
  // a time, never holding a connection across a model call.
  const pool = createPgPool(env.DATABASE_URL, {
    max: concurrency + 4,
    applicationName: "clawgate-worker",
    connectionTimeoutMillis: 5_000,
    statementTimeoutMs: 60_000,
  });
  const wlog = workerLogger(logger);
  const throttle = createThrottle(pool, opts.limits ?? throttleLimits(env));
  const openApi = openApiOf(env);
  const senders = opts.senders ?? realSenders(env, openApi);
  // Model slots kept for the next call are given back at stop, before the pool ends.
  const modelSlots = opts.agent ? undefined : createModelSlots({ pool, logger });
  const announce = createAnnouncer({ db, pool, throttle, senders, defaultRobotCode: env.DINGTALK_APP_KEY });
  // Safe-mode notices to the ops chats: a limit of their own, not the skill's 5 per hour.
  const announceOps = createAnnouncer({
    db,
    pool,
    throttle,
    senders,
    defaultRobotCode: env.DINGTALK_APP_KEY,
    limiterName: "announce-ops",
    limit: { points: 60, durationSec: 3_600 },
  });
  const deps: WorkerDeps = {
    db,
    pool,
    throttle,
    senders,
    webhookHosts: env.DINGTALK_WEBHOOK_HOSTS,
    logger,
    metrics,
    policy: opts.policy,
  };
  const agent =
    opts.agent ??
    createAgent({
      db,
      pool,
      announce,
      log: logger,
      ...(modelSlots ? { modelSlots } : {}),
      ...(opts.agentSettings ? { settings: opts.agentSettings } : {}),
      observeModelCall: observeModelCall(metrics),
    });
  const taskList: TaskList = {
    [INBOUND_TASK]: createInboundHandler({
      ...deps,
      agent,
      ...(opts.backlogCap === undefined ? {} : { backlogCap: opts.backlogCap }),
    }),
    [APPROVAL_EXECUTE_TASK]: createApprovalExecutor({
      ...deps,
      catalog: catalogCache(db),
      defaultRobotCode: env.DINGTALK_APP_KEY,
      announce,
    }),
    [APPROVAL_NOTIFY_TASK]: createApprovalNotifier({
      db,
      openApi,
      robotCode: env.DINGTALK_APP_KEY,
      // Clicks come back the way messages do: over the Stream connection, or signed HTTP.
      callback:
        env.DINGTALK_MODE === "stream"
          ? { type: "STREAM" }
          : { type: "HTTP", routeKey: env.DINGTALK_CARD_ROUTE_KEY ?? "clawgate-approvals" },
      consoleUrl: env.CLAWGATE_CONSOLE_URL,
      logger,
    }),
    [APPROVAL_SWEEP_TASK]: async () => {
      const { expired, enqueued, escalated = 0 } = await sweepApprovals(db);
      if (expired > 0 || enqueued > 0 || escalated > 0) log.info({ expired, enqueued, escalated }, "approvals swept");
    },
    [MCP_SYNC_TASK]: createMcpSync(db, logger),
    [SAFE_MODE_SWEEP_TASK]: async () => {
      const sent = await sweepSafeMode(db, announceOps, logger);
      if (sent > 0)
        log.info({ notices: sent }, "safe-mode notices handled (sent to the ops chats, or refused and logged)");
    },
    [QUEUE_GC_TASK]: async () => {
      const deleted = await collectEmptyQueues(pool);
      if (deleted > 0) log.debug({ deleted }, "empty conversation queues deleted");
    },
    [OVERVIEW_ROLLUP_TASK]: async () => {
      const rolled = await rollHours(db);
      const pruned = await pruneRollups(db);
      if (rolled.length > 0 || pruned > 0) log.debug({ rolled: rolled.length, pruned }, "overview hours rolled up");
    },
    [POLICY_CHANGES_GC_TASK]: async () => {
      const deleted = await pruneRuleChanges(db);
      if (deleted > 0) log.debug({ deleted }, "policy change log pruned");
    },
    [CLEANUP_TASK]: async () => {
      await cleanupRateLimits(pool);
    },
    // One job key: one replica runs it at a time; its batches are transactions of their own.
    [RETENTION_TASK]: async () => {
      const r = await purgeRetention(db, { actor: RUNTIME_ACTOR, signingKey: env.CLAWGATE_AUDIT_SIGNING_KEY });
      log.info({ counts: r.counts, keptIncidents: r.keptIncidents.length }, "retention purge ran");
      if (r.auditSkipped) log.warn(r.auditSkipped);
    },
  };
  const periodicJobs: PeriodicJob[] = [
    { task: CLEANUP_TASK, everyMs: 10 * 60_000, maxAttempts: 3 },
    { task: RETENTION_TASK, everyMs: 60 * 60_000, maxAttempts: 1 },
    { task: QUEUE_GC_TASK, everyMs: 60_000, maxAttempts: 1 },
    { task: APPROVAL_SWEEP_TASK, everyMs: 60_000, maxAttempts: 1 },
    { task: MCP_SYNC_TASK, everyMs: MCP_SYNC_EVERY_MS, maxAttempts: 1 },
    { task: OVERVIEW_ROLLUP_TASK, everyMs: 5 * 60_000, maxAttempts: 1 },
    { task: POLICY_CHANGES_GC_TASK, everyMs: 10 * 60_000, maxAttempts: 1 },
    { task: SAFE_MODE_SWEEP_TASK, everyMs: 60_000, maxAttempts: 1 },
  ];

  let runner: Runner | undefined;
  let workerIds: string[] = [];
  const deadWorkers = new Set<string>();
  const unlockDeadWorkers = async () => {
    if (deadWorkers.size === 0) return;
    const ids = [...deadWorkers];
    await pool.query("SELECT graphile_worker.force_unlock_workers($1::text[])", [ids]);
    for (const id of ids) deadWorkers.delete(id);
    log.info({ workers: ids.length }, "unlocked the jobs of dead queue workers");
  };
  let ingressOnly = false;
  let stopped = false;
  let wake: (() => void) | undefined;

  const boot = async () => {
    let failures = 0;
    while (!stopped) {
      try {
        await prepareQueueSchema(pool, wlog);
        if (stopped) return;
        if (concurrency === 0) {
          ingressOnly = true;
          log.info("queue schema ready; WORKER_CONCURRENCY=0: this replica runs no jobs");
          return;
        }
        await unlockDeadWorkers();
        if (stopped) return;
        // The workers start taking jobs inside run(): collect their ids as they are created.
        const events: WorkerEvents = new EventEmitter();
        const ids: string[] = [];
        events.on("worker:create", ({ worker }) => void ids.push(worker.workerId));
        runner = await run({
          events,
          pgPool: pool,
          taskList,
          concurrency,
          noHandleSignals: true,
          pollInterval: opts.pollIntervalMs ?? 2_000,
          logger: wlog,
        });
        workerIds = ids;
        opts.onWorkers?.(ids);
        log.info({ concurrency }, "queue running");
        const current = runner;
        const stopPeriodic = schedulePeriodic(current.addJob, periodicJobs, log);
        // A config change (a switch) or an expiry: send its notice now, not at the next minute.
        // One job key, so the replicas' additions collapse into one run.
        const stopNotices = opts.policy?.onChange?.(() => {
          void current
            .addJob(SAFE_MODE_SWEEP_TASK, {}, { jobKey: `${SAFE_MODE_SWEEP_TASK}:now`, maxAttempts: 3 })
            .catch(() => {});
        });
        // Approvals decided while no runtime was running are not left waiting for the first cron tick.
        void current
          .addJob(APPROVAL_SWEEP_TASK, {}, { jobKey: APPROVAL_SWEEP_TASK, maxAttempts: 1 })
          .catch((error: unknown) => {
            log.warn({ err: describeDbError(error) }, "approval sweep not enqueued at start");
          });
        // MCP servers' tools are listed at start, not first after the period.
        void current
          .addJob(MCP_SYNC_TASK, {}, { jobKey: `${MCP_SYNC_TASK}:*`, maxAttempts: 1 })
          .catch((error: unknown) => {
            log.warn({ err: describeDbError(error) }, "mcp sync not enqueued at start");
          });
        // graphile-worker 0.16 lets a worker die when it cannot release a job (the database went
        // away mid-job) and never replaces it: after enough outages nothing runs. Restart the
        // whole runner instead, and unlock the dead worker's job so it runs again now rather
        // than after graphile-worker's 4-hour lock timeout.
        current.events.on("worker:fatalError", ({ worker }) => {
          deadWorkers.add(worker.workerId);
          if (runner === current) {
            log.warn({ workerId: worker.workerId }, "a queue worker died; restarting the runner");
            void current.stop().catch(() => {});
          }
        });
        current.promise
          .catch((error: unknown) => log.error({ err: describeDbError(error) }, "queue runner crashed"))
          .finally(() => {
            stopPeriodic();
            stopNotices?.();
            if (runner === current) {
              runner = undefined;
              workerIds = [];
            }
            if (!stopped) void boot();
          });
        return;
      } catch (error) {
        if (failures++ === 0) log.warn({ error: describeDbError(error) }, "queue not started; retrying");
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, opts.retryDelayMs ?? 2_000).unref();
        });
      }
    }
  };
  void boot();

  return {
    pool,
    running: () => runner !== undefined || ingressOnly,
    workerIds: () => workerIds,
    async stop() {
      stopped = true;
      wake?.();
      const current = runner;
      runner = undefined;
      await current
        ?.stop()
        .catch((error: unknown) => log.warn({ err: describeDbError(error) }, "queue did not stop cleanly"));
      // A stalled database must not hold shutdown: slots not given back expire on their own,
      // connections still opening are abandoned.
      await Promise.race([modelSlots?.close(), new Promise((r) => setTimeout(r, 1_000).unref())]);
      await Promise.race([pool.end().catch(() => {}), new Promise((r) => setTimeout(r, 1_000).unref())]);
    },
  };
}
