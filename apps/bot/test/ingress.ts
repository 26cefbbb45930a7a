/**
 * The runtime's HTTP ingress on a free port, with a fake DingTalk that delivers to it, for the
 * tests with their own setup (mcp, listen-drop, backlog) not yet on `useBotHarness` (harness.ts).
 */
import type { Db } from "@clawgate/db";
import { startFakeDingTalk, type FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import type pg from "pg";
import { createPgPool } from "../src/db-pool.ts";
import { createIngest, type Ingest } from "../src/ingress/ingest.ts";
import type { Logger } from "../src/logger.ts";
import type { Metrics } from "../src/metrics.ts";
import { buildServer, type BotServer } from "../src/server.ts";
import { prepareQueueSchema } from "../src/worker/queue.ts";
import { APP_KEY, APP_SECRET } from "./dingtalk.ts";

export interface IngressHarness {
  pool: pg.Pool;
  ingest: Ingest;
  app: BotServer;
  fake: FakeDingTalk;
}

export async function startIngressHarness(opts: {
  databaseUrl: string;
  db: Db;
  logger: Logger;
  metrics: Metrics;
  applicationName: string;
  statementTimeoutMs?: number;
}): Promise<IngressHarness> {
  const pool = createPgPool(opts.databaseUrl, {
    applicationName: opts.applicationName,
    ...(opts.statementTimeoutMs ? { statementTimeoutMs: opts.statementTimeoutMs } : {}),
  });
  await prepareQueueSchema(pool);
  const ingest = createIngest({ pool, robotCode: APP_KEY });
  const env = { DINGTALK_MODE: "http" as const, DINGTALK_APP_KEY: APP_KEY, DINGTALK_APP_SECRET: APP_SECRET };
  const app = buildServer({ env, db: opts.db, logger: opts.logger, metrics: opts.metrics, ingest });
  const base = await app.listen({ host: "127.0.0.1", port: 0 });
  const fake = await startFakeDingTalk({
    port: 0,
    appKey: APP_KEY,
    appSecret: APP_SECRET,
    callbackUrl: `${base}/dingtalk/robot`,
  });
  return { pool, ingest, app, fake };
}
