/**
 * The runtime's HTTP app. A factory, so tests drive it with `inject` and `serve` listens.
 * The DingTalk ingress routes (`POST /dingtalk/robot`, `POST /dingtalk/events`) register
 * as their own plugin next to the ops routes when an `ingest` is given.
 */
import type { Db } from "@clawgate/db";
import type { CardCallbackHandler } from "./approvals/card-callback.ts";
import { cardRoutes } from "./approvals/card-route.ts";
import Fastify from "fastify";
import type { Env } from "./env.ts";
import { RequestLogController, routeOf } from "./log-controller.ts";
import type { Logger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import type { Ingest } from "./ingress/ingest.ts";
import { createReadiness, type ExtraChecks } from "./readiness.ts";
import { dingtalkRoutes, type DingTalkRouteEnv } from "./routes/dingtalk.ts";
import { opsRoutes } from "./routes/ops.ts";
import { traceIdFrom } from "./trace.ts";

export interface ServerDeps {
  env: Pick<Env, "DINGTALK_MODE"> & DingTalkRouteEnv & Partial<Pick<Env, "DINGTALK_CARD_CALLBACK_SECRET">>;
  db: Db;
  /** The ingest pipeline; without it the DingTalk routes are not mounted. */
  ingest?: Ingest;
  /** Approval card clicks; with it `POST /dingtalk/card` is mounted. */
  cardCallback?: CardCallbackHandler;
  /** More `/ready` checks (e.g. the queue is running), answered from memory. */
  extraChecks?: ExtraChecks;
  logger: Logger;
  metrics?: Metrics;
  /** METRICS_TOKEN: with it `GET /metrics` answers here too, to that bearer token only; without it, 404 here. */
  metricsToken?: string | undefined;
  /** Clock for the signature timestamp window (tests). */
  now?: () => number;
  /** Deadline for each readiness query against the database. */
  readinessTimeoutMs?: number;
}

export function buildServer({
  env,
  db,
  logger,
  ingest,
  cardCallback,
  extraChecks,
  now,
  metrics = createMetrics(),
  metricsToken,
  readinessTimeoutMs = 1_000,
}: ServerDeps) {
  const app = Fastify({
    loggerInstance: logger,
    logController: new RequestLogController(),
    requestIdHeader: false,
    genReqId: (req) => traceIdFrom(req.headers),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
  });

  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });

  app.addHook("onResponse", async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: routeOf(request), status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.register(opsRoutes, { readiness: createReadiness(db, readinessTimeoutMs, extraChecks), metrics, metricsToken });
  if (ingest) app.register(dingtalkRoutes, { env, ingest, metrics, ...(now ? { now } : {}) });
  if (cardCallback)
    app.register(cardRoutes, {
      secret: env.DINGTALK_CARD_CALLBACK_SECRET,
      handle: cardCallback,
      metrics,
      ...(now ? { now } : {}),
    });

  return app;
}

export type BotServer = ReturnType<typeof buildServer>;
