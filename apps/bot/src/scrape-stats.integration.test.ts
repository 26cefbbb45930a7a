/**
 * The gauges /metrics reads from the database at scrape time: queue depth and oldest job age by
 * task (graphile-worker's jobs table), failed jobs, the newest config revision and the replicas'
 * heartbeat rows; and the revision this replica applies, from memory.
 */
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../test/helpers.ts";
import { createPgPool } from "./db-pool.ts";
import { createMetrics } from "./metrics.ts";
import { readQueueStats, readReplicaStats } from "./scrape-stats.ts";
import { prepareQueueSchema } from "./worker/queue.ts";

let testDb: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  testDb = await createTestDatabase({ prefix: "clawgate_bot_scrape" });
  pool = createPgPool(testDb.url, { max: 2, applicationName: "test-scrape" });
  await prepareQueueSchema(pool);
}, 60_000);
afterAll(async () => {
  await pool?.end();
  await testDb?.drop();
});

const line = (text: string, name: string) =>
  new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1];

describe("scrape-time gauges", () => {
  it("queue depth and the oldest due job's age by task; failed jobs; nothing scheduled for later", async () => {
    const metrics = createMetrics();
    metrics.queueStats = () => readQueueStats(pool);
    // Two inbound jobs due 2 and 1 minutes ago, one due in an hour, one approval job out of attempts.
    await pool.query(`SELECT graphile_worker.add_job('inbound', '{}'::json, run_at := now() - interval '2 minutes')`);
    await pool.query(`SELECT graphile_worker.add_job('inbound', '{}'::json, run_at := now() - interval '1 minute')`);
    await pool.query(`SELECT graphile_worker.add_job('inbound', '{}'::json, run_at := now() + interval '1 hour')`);
    await pool.query(`SELECT graphile_worker.add_job('approval.notify', '{}'::json, max_attempts := 1)`);
    await pool.query(`UPDATE graphile_worker._private_jobs SET attempts = 1 WHERE max_attempts = 1`);

    const text = await metrics.registry.metrics();
    expect(line(text, 'clawgate_queue_depth{task="inbound"}')).toBe("2");
    expect(line(text, 'clawgate_queue_depth{task="approval.notify"}')).toBe("0");
    const age = Number(line(text, 'clawgate_queue_oldest_job_age_seconds{task="inbound"}'));
    expect(age).toBeGreaterThanOrEqual(119);
    expect(age).toBeLessThan(180);
    expect(line(text, "clawgate_queue_failed_jobs")).toBe("1");
  });

  it("the newest config revision, the applied one, and live / stale replicas", async () => {
    const metrics = createMetrics();
    metrics.replicaStats = () => readReplicaStats(pool, 15_000);
    let applied: number | null = null;
    metrics.appliedRevision = () => applied;
    expect(line(await metrics.registry.metrics(), "clawgate_config_revision_applied")).toBe("0");
    applied = 1;
    await query(
      testDb.url,
      `INSERT INTO "ConfigRevision" ("actorType", "actorName", summary) VALUES ('SYSTEM', 'test', 'a'), ('SYSTEM', 'test', 'b')`,
    );
    await query(
      testDb.url,
      `INSERT INTO "RuntimeInstance" (id, hostname, pid, version, mode, "heartbeatAt")
       VALUES ('rt_live', 'h', 1, 'v', 'http', now()), ('rt_gone', 'h', 2, 'v', 'http', now() - interval '1 minute')`,
    );
    const text = await metrics.registry.metrics();
    expect(line(text, "clawgate_config_revision_applied")).toBe("1");
    const [{ latest }] = (await query<{ latest: number }>(
      testDb.url,
      `SELECT max(id) AS latest FROM "ConfigRevision"`,
    )) as [{ latest: number }];
    expect(line(text, "clawgate_config_revision_latest")).toBe(String(latest));
    expect(line(text, 'clawgate_runtime_instances{state="live"}')).toBe("1");
    expect(line(text, 'clawgate_runtime_instances{state="stale"}')).toBe("1");
  });

  it("a stalled read does not hold the scrape: the gauge keeps its last value", async () => {
    const metrics = createMetrics();
    let calls = 0;
    metrics.queueStats = async () => {
      calls += 1;
      if (calls > 1) return new Promise(() => {});
      return { waiting: [{ task: "inbound", jobs: 3, oldestSeconds: 5 }], failed: 0 };
    };
    expect(line(await metrics.registry.metrics(), 'clawgate_queue_depth{task="inbound"}')).toBe("3");
    const started = Date.now();
    expect(line(await metrics.registry.metrics(), 'clawgate_queue_depth{task="inbound"}')).toBe("3");
    expect(Date.now() - started).toBeLessThan(2_500);
    // One read per scrape for the three queue gauges; a stuck read is not joined by another.
    expect(calls).toBe(2);
    expect(line(await metrics.registry.metrics(), 'clawgate_queue_depth{task="inbound"}')).toBe("3");
    expect(calls).toBe(2);
  });
});
