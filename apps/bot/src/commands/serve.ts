/**
 * `clawgate serve`: the runtime HTTP server (ops + DingTalk ingress), the policy store, the job
 * queue worker, Stream mode when DINGTALK_MODE=stream, and the heartbeat, until SIGINT/SIGTERM.
 */
import { bootstrapCatalog, describeBootstrap, ensureDefaultModel } from "@clawgate/core";
import { approvalMetrics } from "@clawgate/core/approvals.ts";
import { countOpenDeadLetters } from "@clawgate/core/dead-letters.ts";
import { createDb } from "@clawgate/db";
import { agentSettings } from "../agent/index.ts";
import { DingTalkOpenApi, registerCardCallback } from "@clawgate/dingtalk";
import { createCardCallbackHandler } from "../approvals/card-callback.ts";
import { createPgPool } from "../db-pool.ts";
import { describeDbError, withTimeout } from "../db-checks.ts";
import { startHeartbeat } from "../heartbeat.ts";
import { createIngest } from "../ingress/ingest.ts";
import { startStreamIngress, type StreamIngress } from "../ingress/stream.ts";
import { createLogger } from "../logger.ts";
import { createMetrics } from "../metrics.ts";
import { snapshotCheck, startPolicyRuntime } from "../policy/runtime.ts";
import type { ExtraChecks } from "../readiness.ts";
import { buildServer } from "../server.ts";
import { startQueue } from "../worker/queue.ts";
import { startReclaimer } from "../worker/reclaim.ts";
import { readQueueStats, readReplicaStats } from "../scrape-stats.ts";
import { metricsExposureProblem } from "../env.ts";
import { buildMetricsServer } from "../routes/ops.ts";
import { envOrExit } from "./env-or-exit.ts";

const SHUTDOWN_DEADLINE_MS = 8_000;

export async function serve(): Promise<void> {
  const env = envOrExit();
  const logger = createLogger(env.LOG_LEVEL);
  if (env.DINGTALK_MODE === "stream" && (!env.DINGTALK_APP_KEY || !env.DINGTALK_APP_SECRET)) {
    console.error("clawgate: invalid environment");
    console.error("  DINGTALK_MODE=stream needs DINGTALK_APP_KEY and DINGTALK_APP_SECRET");
    process.exit(1);
  }
  if (env.REPLICA_DEAD_AFTER_MS < 3 * env.HEARTBEAT_INTERVAL_MS) {
    console.error("clawgate: invalid environment");
    console.error(
      "  REPLICA_DEAD_AFTER_MS must be at least 3 x HEARTBEAT_INTERVAL_MS (a live replica must never look dead)",
    );
    process.exit(1);
  }
  const exposure = metricsExposureProblem(env);
  if (exposure) {
    console.error("clawgate: invalid environment");
    console.error(`  ${exposure}`);
    process.exit(1);
  }
  const metrics = createMetrics();
  const dataKeys = env.CLAWGATE_DATA_KEYS;
  if (!dataKeys) {
    if (env.NODE_ENV === "production") {
      console.error(
        "clawgate serve: CLAWGATE_DATA_KEYS is not set; in production chat content is only stored encrypted.\n" +
          "  Make a key with `clawgate keys new --id k1` and set CLAWGATE_DATA_KEYS (README: Encryption at rest).",
      );
      process.exit(1);
    }
    logger.warn("CLAWGATE_DATA_KEYS is not set: message content is stored in clear (refused when NODE_ENV=production)");
  }
  const db = createDb(env.DATABASE_URL, { connectionTimeoutMillis: 2_000, applicationName: "clawgate-bot", dataKeys });
  metrics.openDeadLetters = () => countOpenDeadLetters(db);
  metrics.approvalStats = () => approvalMetrics(db);
  const cardCallback = createCardCallbackHandler({ db, logger, metrics });
  // The acknowledgement path: short deadlines, so a dead database is a fast 503 / no-ack.
  const ingressPool = createPgPool(env.DATABASE_URL, {
    max: 20,
    applicationName: "clawgate-ingress",
    connectionTimeoutMillis: 1_000,
    statementTimeoutMs: 2_000,
  });
  const ingest = createIngest({
    pool: ingressPool,
    robotCode: env.DINGTALK_APP_KEY,
    keys: dataKeys,
    queuePerConversation: env.QUEUE_PER_CONVERSATION,
  });
  // Best effort and not awaited: a dead database must not delay listening; the change it makes
  // bumps the revision, so the policy store picks it up whenever it lands.
  void ensureDefaultModel(db, env)
    .then(
      (revision) =>
        revision !== null && logger.info({ revision }, "default model local_chat created from LOCAL_MODEL_BASE_URL"),
    )
    .catch((error: unknown) =>
      logger.warn({ error: describeDbError(error) }, "could not ensure the default model; continuing"),
    );
  let stopping = false;
  // The catalog in line with the code (built-in skills, default flags), as `migrate` does: every
  // replica tries at start, one applies it under bootstrap's lock, the others find nothing to do.
  // Not awaited either, and retried while the database is away.
  void (async () => {
    while (!stopping) {
      try {
        const { changes, configRevision } = await bootstrapCatalog(db);
        if (configRevision !== null)
          logger.info({ revision: configRevision, changes: describeBootstrap(changes) }, "catalog bootstrapped");
        return;
      } catch (error) {
        logger.warn({ error: describeDbError(error) }, "could not bootstrap the catalog; retrying in 5 s");
        await new Promise((r) => setTimeout(r, 5_000).unref());
      }
    }
  })();
  const policy = startPolicyRuntime({ db, databaseUrl: env.DATABASE_URL, logger });
  // A new runner's worker ids are published at once: survivors can only release what they can name.
  let publishWorkers = () => {};
  const queue = startQueue({
    env,
    db,
    logger,
    metrics,
    policy,
    agentSettings: agentSettings(env),
    backlogCap: env.BACKLOG_CAP_PER_CONVERSATION,
    onWorkers: () => publishWorkers(),
  });

  metrics.appliedRevision = () => policy.snapshot()?.revision ?? null;
  metrics.queueStats = () => readQueueStats(queue.pool);
  metrics.replicaStats = () => readReplicaStats(queue.pool, env.REPLICA_DEAD_AFTER_MS);

  let stream: StreamIngress | undefined;
  const extraChecks: ExtraChecks = {
    snapshot: snapshotCheck(policy),
    queue: () => (queue.running() ? { ok: true } : { ok: false, error: "queue worker not running" }),
  };
  if (env.DINGTALK_MODE === "stream") {
    extraChecks.stream = () => (stream?.connected() ? { ok: true } : { ok: false, error: "stream not connected" });
  }
  const app = buildServer({
    env,
    db,
    logger,
    metrics,
    metricsToken: env.METRICS_TOKEN,
    ingest,
    cardCallback,
    extraChecks,
  });
  const metricsApp =
    env.METRICS_PORT === "off" ? undefined : buildMetricsServer({ metrics, token: env.METRICS_TOKEN, logger });

  let listening = `${env.HOST}:${env.PORT}`;
  try {
    await app.listen({ host: env.HOST, port: env.PORT });
    if (metricsApp && env.METRICS_PORT !== "off") {
      listening = `${env.METRICS_HOST}:${env.METRICS_PORT} (METRICS_HOST:METRICS_PORT)`;
      const metricsUrl = await metricsApp.listen({ host: env.METRICS_HOST, port: env.METRICS_PORT });
      logger.info({ metrics: `${metricsUrl}/metrics`, token: Boolean(env.METRICS_TOKEN) }, "metrics listening");
    }
  } catch (error) {
    logger.fatal({ err: error }, `cannot listen on ${listening}`);
    await app.close();
    await queue.stop();
    await policy.stop();
    await db.$disconnect();
    process.exit(1);
  }
  const shownHost = env.HOST === "0.0.0.0" || env.HOST === "::" ? "127.0.0.1" : env.HOST;
  const url = `http://${shownHost}:${env.PORT}`;
  logger.info({ url, mode: env.DINGTALK_MODE }, `clawgate runtime listening on ${url}`);

  if (env.DINGTALK_MODE === "stream") {
    stream = startStreamIngress({
      clientId: env.DINGTALK_APP_KEY!,
      clientSecret: env.DINGTALK_APP_SECRET!,
      apiBase: env.DINGTALK_API_BASE,
      ingest,
      logger,
      metrics,
      cardCallback,
    });
  }
  // HTTP-mode card callbacks: tell DingTalk where they go (once per start; it keeps the last).
  if (
    env.DINGTALK_CARD_CALLBACK_URL &&
    env.DINGTALK_CARD_CALLBACK_SECRET &&
    env.DINGTALK_APP_KEY &&
    env.DINGTALK_APP_SECRET
  ) {
    const api = new DingTalkOpenApi({
      appKey: env.DINGTALK_APP_KEY,
      appSecret: env.DINGTALK_APP_SECRET,
      baseUrl: env.DINGTALK_API_BASE,
      timeoutMs: 5_000,
    });
    void registerCardCallback(api, {
      routeKey: env.DINGTALK_CARD_ROUTE_KEY,
      url: env.DINGTALK_CARD_CALLBACK_URL,
      apiSecret: env.DINGTALK_CARD_CALLBACK_SECRET,
    })
      .then(() => logger.info({ routeKey: env.DINGTALK_CARD_ROUTE_KEY }, "card callback URL registered"))
      .catch((error: unknown) =>
        logger.warn(
          { err: error instanceof Error ? error.message : String(error) },
          "card callback URL not registered",
        ),
      );
  }

  const heartbeat = startHeartbeat({
    db,
    logger,
    mode: env.DINGTALK_MODE,
    appliedRevision: () => policy.snapshot()?.revision ?? null,
    queueWorkerIds: () => queue.workerIds(),
    intervalMs: env.HEARTBEAT_INTERVAL_MS,
  });
  publishWorkers = () => void heartbeat.beat();
  const reclaimer = startReclaimer({
    pool: queue.pool,
    logger,
    selfId: heartbeat.id,
    deadAfterMs: env.REPLICA_DEAD_AFTER_MS,
  });
  policy.store.on("reload", () => void heartbeat.beat());
  void policy.loaded.then(() => heartbeat.beat());

  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    setTimeout(() => {
      logger.error("shutdown deadline passed; exiting");
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    // Stop taking messages first, then let running jobs finish.
    await stream?.stop().catch(() => {});
    await app.close();
    await metricsApp?.close();
    reclaimer.stop();
    await withTimeout(queue.stop(), 4_000, "stopping the queue").catch((error: unknown) =>
      logger.warn({ err: error }, "queue did not stop in time"),
    );
    await heartbeat.stop();
    await withTimeout(policy.stop(), 2_000, "stopping the policy store").catch((error: unknown) =>
      logger.warn({ err: error }, "policy store did not stop in time"),
    );
    await Promise.allSettled([
      withTimeout(db.$disconnect(), 2_000, "closing database connections"),
      withTimeout(ingressPool.end(), 2_000, "closing ingress connections"),
    ]).then((results) => {
      for (const r of results)
        if (r.status === "rejected") logger.warn({ err: r.reason }, "database pool did not close cleanly");
    });
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGINT", (s) => void shutdown(s));
  process.on("SIGTERM", (s) => void shutdown(s));
}
