/**
 * The app factory against real PostgreSQL: readiness on an empty database, after migrating,
 * and with nothing listening at DATABASE_URL; request logs; the heartbeat row.
 */
import { createDb, type Db } from "@clawgate/db";
import { committedMigrations, deployMigrations } from "@clawgate/db/migrations";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capturedLogger, query, startBlackhole, UNREACHABLE_DB } from "../test/helpers.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { VERSION } from "./version.ts";
import { createLogger } from "./logger.ts";
import { createMetrics } from "./metrics.ts";
import { traceIdFrom } from "./trace.ts";
import { buildMetricsServer } from "./routes/ops.ts";
import { buildServer, type BotServer } from "./server.ts";

const env = { DINGTALK_MODE: "http" as const };
const METRICS_TOKEN = "test-metrics-token-0123456789";
const bearer = { authorization: `Bearer ${METRICS_TOKEN}` };

interface ReadyBody {
  status: string;
  checks: {
    database: { ok: boolean; error?: string };
    migrations: { ok: boolean; error?: string; pending?: string[] };
  };
}

describe("with nothing listening at DATABASE_URL", () => {
  let db: Db;
  let app: BotServer;
  beforeAll(() => {
    db = createDb(UNREACHABLE_DB, { connectionTimeoutMillis: 2_000 });
    app = buildServer({ env, db, logger: createLogger("silent") });
  });
  afterAll(async () => {
    await app.close();
    await db.$disconnect();
  });

  it("answers /ready 503 fast, naming the database, and /healthz 200", async () => {
    const started = Date.now();
    const ready = await app.inject({ url: "/ready" });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(ready.statusCode).toBe(503);
    const body = ready.json<ReadyBody>();
    expect(body.status).toBe("unavailable");
    expect(body.checks.database.ok).toBe(false);
    expect(body.checks.database.error).toContain("127.0.0.1:1");
    expect(body.checks.migrations.ok).toBe(false);

    const health = await app.inject({ url: "/healthz" });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: "ok" });
  });

  it("keeps the heartbeat going without throwing and stops cleanly", async () => {
    const { logger, lines } = capturedLogger();
    const hb = startHeartbeat({ db, logger, mode: "http", intervalMs: 50, beatTimeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 300));
    await hb.stop();
    const warnings = lines.filter((l) => l.msg === "heartbeat failed; retrying every tick");
    // One line per outage, not one per tick.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.error).toContain("127.0.0.1:1");
  });
});

describe("with a database that accepts connections and never answers", () => {
  it("answers /ready 503 within the readiness deadline, and the heartbeat stops anyway", async () => {
    const blackhole = await startBlackhole();
    const db = createDb(blackhole.url, { connectionTimeoutMillis: 5_000 });
    const app = buildServer({ env, db, logger: createLogger("silent") });
    try {
      const hb = startHeartbeat({ db, logger: createLogger("silent"), mode: "http", stopTimeoutMs: 500 });
      const started = Date.now();
      const ready = await app.inject({ url: "/ready" });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(ready.statusCode).toBe(503);
      expect(ready.json<ReadyBody>().checks.database.error).toBe("SELECT 1 timed out after 1000 ms");
      expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);

      const stopping = Date.now();
      await hb.stop();
      expect(Date.now() - stopping).toBeLessThan(1_500);
    } finally {
      await app.close();
      await blackhole.close();
      await db.$disconnect().catch(() => {});
    }
  });
});

describe("against a real database", () => {
  let testDb: TestDatabase;
  let db: Db;
  let app: BotServer;
  const { logger, lines } = capturedLogger();

  beforeAll(async () => {
    testDb = await createTestDatabase({ migrate: false, prefix: "clawgate_bot" });
    db = createDb(testDb.url, { connectionTimeoutMillis: 2_000 });
    app = buildServer({ env, db, logger, metricsToken: METRICS_TOKEN });
  });
  afterAll(async () => {
    await app?.close();
    await db?.$disconnect();
    await testDb?.drop();
  });

  it("answers /ready 503 naming the pending migration while the database is empty", async () => {
    const ready = await app.inject({ url: "/ready" });
    expect(ready.statusCode).toBe(503);
    const body = ready.json<ReadyBody>();
    expect(body.checks.database).toEqual({ ok: true });
    expect(body.checks.migrations.ok).toBe(false);
    expect(body.checks.migrations.pending).toEqual(committedMigrations());
    expect(body.checks.migrations.error).toContain(committedMigrations()[0]);
  });

  it("turns ready once the migrations are applied", async () => {
    await deployMigrations(testDb.url);
    const ready = await app.inject({ url: "/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ok", checks: { database: { ok: true }, migrations: { ok: true } } });
  });

  it("echoes or generates the trace id and logs metadata only", async () => {
    const secret = "sk-super-secret-value";
    const withId = await app.inject({
      method: "POST",
      url: `/nowhere?sign=${secret}`,
      headers: { "x-request-id": "trace-abc-1", authorization: `Bearer ${secret}` },
      payload: { text: secret },
    });
    expect(withId.statusCode).toBe(404);
    // Not 32 hex: stored and sent on as a stable 32-hex trace id derived from it.
    const traceId = traceIdFrom({ "x-request-id": "trace-abc-1" });
    expect(withId.headers["x-request-id"]).toBe(traceId);

    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const fromParent = await app.inject({ url: "/healthz", headers: { traceparent } });
    expect(fromParent.headers["x-request-id"]).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    const generated = await app.inject({ url: "/healthz" });
    expect(generated.headers["x-request-id"]).toMatch(/^[0-9a-f]{32}$/);

    const line = lines.find((l) => l.traceId === traceId && l.msg === "request completed");
    expect(line).toMatchObject({ method: "POST", route: "(unmatched)", status: 404 });
    expect(typeof line?.durationMs).toBe("number");
    expect(JSON.stringify(lines)).not.toContain(secret);
  });

  it("serves Prometheus metrics with default metrics and the request histogram", async () => {
    await app.inject({ url: "/healthz" });
    const res = await app.inject({ url: "/metrics", headers: bearer });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("text/plain");
    expect(res.body).toContain("clawgate_process_cpu_user_seconds_total");
    expect(res.body).toMatch(
      /clawgate_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+/,
    );
    expect(res.body).toMatch(/clawgate_http_request_duration_seconds_count\{[^}]*route="\(unmatched\)",status="404"\}/);
  });

  it("answers /metrics on the main port only to the bearer token (and not at all without one)", async () => {
    for (const authorization of [undefined, "Bearer wrong-token-0123456789", `Basic ${METRICS_TOKEN}`, "Bearer"]) {
      const res = await app.inject({ url: "/metrics", headers: authorization ? { authorization } : {} });
      expect(res.statusCode, authorization).toBe(401);
      expect(res.body).not.toContain("clawgate_");
    }
    expect(
      (await app.inject({ url: "/metrics", headers: { authorization: `bearer  ${METRICS_TOKEN}` } })).statusCode,
    ).toBe(200);
    const open = buildServer({ env, db, logger: createLogger("silent") });
    try {
      expect((await open.inject({ url: "/metrics" })).statusCode).toBe(404);
    } finally {
      await open.close();
    }
  });

  it("serves the metrics listener on its own, with or without a token", async () => {
    const metrics = createMetrics();
    const plain = buildMetricsServer({ metrics, logger: createLogger("silent") });
    const guarded = buildMetricsServer({ metrics, token: METRICS_TOKEN, logger: createLogger("silent") });
    try {
      expect((await plain.inject({ url: "/metrics" })).body).toContain("clawgate_process_start_time_seconds");
      expect((await plain.inject({ url: "/ready" })).statusCode).toBe(404);
      expect((await guarded.inject({ url: "/metrics" })).statusCode).toBe(401);
      expect((await guarded.inject({ url: "/metrics", headers: bearer })).statusCode).toBe(200);
    } finally {
      await plain.close();
      await guarded.close();
    }
  });

  it("keeps a RuntimeInstance row fresh and removes it on stop", async () => {
    type Row = { id: string; pid: number; version: string; mode: string; heartbeatAt: Date; startedAt: Date };
    const hb = startHeartbeat({ db, logger, mode: "stream", intervalMs: 100, beatTimeoutMs: 5_000 });
    const read = () => query<Row>(testDb.url, `SELECT * FROM "RuntimeInstance" WHERE id = $1`, [hb.id]);
    await expect.poll(async () => (await read()).length).toBe(1);
    const [first] = await read();
    expect(first).toMatchObject({ pid: process.pid, version: VERSION, mode: "stream" });
    await expect
      .poll(async () => (await read())[0]?.heartbeatAt.getTime(), { timeout: 3_000 })
      .toBeGreaterThan(first!.heartbeatAt.getTime());
    await hb.stop();
    expect(await read()).toEqual([]);
  });
});
