/** Operational endpoints: liveness, readiness, metrics. */
import type { FastifyInstance } from "fastify";
import type { Metrics } from "../metrics.ts";
import type { Readiness } from "../readiness.ts";

export interface OpsRoutesOptions {
  readiness: () => Promise<Readiness>;
  metrics: Metrics;
}

export async function opsRoutes(app: FastifyInstance, { readiness, metrics }: OpsRoutesOptions): Promise<void> {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/ready", async (_request, reply) => {
    const { ready, checks } = await readiness();
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ok" : "unavailable", checks });
  });

  app.get("/metrics", async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}
