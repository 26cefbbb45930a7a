/** Operational endpoints: liveness, readiness, metrics. */
import { createHash, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { Readiness } from "../readiness.ts";

export interface OpsRoutesOptions {
  readiness: () => Promise<Readiness>;
  metrics: Metrics;
  /** With a token, `GET /metrics` answers on this server too (bearer token required); without, it is 404 here. */
  metricsToken?: string | undefined;
}

export async function opsRoutes(
  app: FastifyInstance,
  { readiness, metrics, metricsToken }: OpsRoutesOptions,
): Promise<void> {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/ready", async (_request, reply) => {
    const { ready, checks } = await readiness();
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ok" : "unavailable", checks });
  });

  if (metricsToken) await metricsRoute(app, { metrics, token: metricsToken });
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Does the Authorization header carry this bearer token? Constant time (both sides hashed to 32 bytes). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer +(\S+)\s*$/i.exec(header ?? "");
  return timingSafeEqual(digest(match?.[1] ?? ""), digest(token)) && match !== null;
}

/** `GET /metrics` (Prometheus text); with a token, only for `Authorization: Bearer <token>`. */
export async function metricsRoute(
  app: FastifyInstance,
  { metrics, token }: { metrics: Metrics; token?: string | undefined },
): Promise<void> {
  app.get("/metrics", async (request, reply) => {
    if (token && !bearerMatches(request.headers.authorization, token))
      return reply.code(401).header("www-authenticate", 'Bearer realm="metrics"').send({ error: "unauthorized" });
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}

/**
 * The metrics listener of `serve` (METRICS_HOST:METRICS_PORT, loopback by default): `/metrics`
 * only, apart from the internet-facing server, so the edge proxy never has it to forward.
 */
export function buildMetricsServer({
  metrics,
  token,
  logger,
}: {
  metrics: Metrics;
  token?: string | undefined;
  logger: Logger;
}): FastifyInstance {
  const app = Fastify({ loggerInstance: logger.child({ listener: "metrics" }), disableRequestLogging: true });
  app.register(metricsRoute, { metrics, token });
  return app as unknown as FastifyInstance;
}
