/**
 * The runtime's HTTP app. A factory, so tests drive it with `inject` and `serve` listens.
 * The DingTalk ingress routes (`POST /dingtalk/robot`, `POST /dingtalk/events`) register
 * here as their own plugin next to the ops routes.
 */
import type { Db } from "@clawgate/db";
import Fastify from "fastify";
import type { Env } from "./env.ts";
import { RequestLogController, routeOf } from "./log-controller.ts";
import type { Logger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createReadiness } from "./readiness.ts";
import { opsRoutes } from "./routes/ops.ts";
import { traceIdFrom } from "./trace.ts";

export interface ServerDeps {
  env: Pick<Env, "DINGTALK_MODE">;
  db: Db;
  logger: Logger;
  metrics?: Metrics;
  /** Deadline for each readiness query against the database. */
  readinessTimeoutMs?: number;
}

export function buildServer({ db, logger, metrics = createMetrics(), readinessTimeoutMs = 1_000 }: ServerDeps) {
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

  app.register(opsRoutes, { readiness: createReadiness(db, readinessTimeoutMs), metrics });

  return app;
}

export type BotServer = ReturnType<typeof buildServer>;
