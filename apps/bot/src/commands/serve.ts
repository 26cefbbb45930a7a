/** `clawgate serve`: the runtime HTTP server plus its heartbeat, until SIGINT/SIGTERM. */
import { createDb } from "@clawgate/db";
import { withTimeout } from "../db-checks.ts";
import { startHeartbeat } from "../heartbeat.ts";
import { createLogger } from "../logger.ts";
import { buildServer } from "../server.ts";
import { envOrExit } from "./env-or-exit.ts";

const SHUTDOWN_DEADLINE_MS = 8_000;

export async function serve(): Promise<void> {
  const env = envOrExit();
  const logger = createLogger(env.LOG_LEVEL);
  const db = createDb(env.DATABASE_URL, { connectionTimeoutMillis: 2_000, applicationName: "clawgate-bot" });
  const app = buildServer({ env, db, logger });

  try {
    await app.listen({ host: env.HOST, port: env.PORT });
  } catch (error) {
    logger.fatal({ err: error }, `cannot listen on ${env.HOST}:${env.PORT}`);
    await db.$disconnect();
    process.exit(1);
  }
  const shownHost = env.HOST === "0.0.0.0" || env.HOST === "::" ? "127.0.0.1" : env.HOST;
  const url = `http://${shownHost}:${env.PORT}`;
  logger.info({ url, mode: env.DINGTALK_MODE }, `clawgate runtime listening on ${url}`);

  const heartbeat = startHeartbeat({ db, logger, mode: env.DINGTALK_MODE });

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    setTimeout(() => {
      logger.error("shutdown deadline passed; exiting");
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    await app.close();
    await heartbeat.stop();
    await withTimeout(db.$disconnect(), 2_000, "closing database connections").catch((error: unknown) =>
      logger.warn({ err: error }, "database pool did not close cleanly"),
    );
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGINT", (s) => void shutdown(s));
  process.on("SIGTERM", (s) => void shutdown(s));
}
