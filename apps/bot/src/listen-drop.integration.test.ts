/**
 * The LISTEN connections dropped (pg_terminate_backend, as a failover or an idle-connection
 * killer does): the policy store's `clawgate_config` listener and graphile-worker's
 * `jobs:insert` listener come back on their own, a config change made afterwards is applied
 * through the NOTIFY (the revision poll is set to a minute here, so only the LISTEN can bring it
 * within seconds), and messages are still processed, once.
 */
import { createDb, type Db } from "@clawgate/db";
import type { FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { query, waitFor } from "../test/helpers.ts";
import { startIngressHarness } from "../test/ingress.ts";
import { setConversation, untilApplied } from "../test/policy.ts";
import { queueEnv, startTestQueue } from "../test/queue.ts";
import { createLogger } from "./logger.ts";
import { createMetrics } from "./metrics.ts";
import { startPolicyRuntime, type PolicyRuntime } from "./policy/runtime.ts";
import type { BotServer } from "./server.ts";
import type { Queue } from "./worker/queue.ts";

let testDb: TestDatabase;
let db: Db;
let pool: pg.Pool;
let app: BotServer;
let fake: FakeDingTalk;
let policy: PolicyRuntime;
let queue: Queue;
const logger = createLogger("silent");
const metrics = createMetrics();

beforeAll(async () => {
  testDb = await createTestDatabase({ prefix: "clawgate_bot_listen" });
  db = createDb(testDb.url);
  ({ pool, app, fake } = await startIngressHarness({
    databaseUrl: testDb.url,
    db,
    logger,
    metrics,
    applicationName: "test-listen",
  }));
  policy = startPolicyRuntime({ db, databaseUrl: testDb.url, logger, pollIntervalMs: 60_000 });
  await policy.loaded;
  await untilApplied(policy, await setConversation(db, "cid-listen-1"));
  queue = await startTestQueue({ env: queueEnv(testDb.url, fake.url), db, logger, metrics, policy });
});
afterAll(async () => {
  await queue?.stop();
  await policy?.stop();
  await app?.close();
  await fake?.close();
  await pool?.end();
  await db?.$disconnect();
  await testDb?.drop();
});

/** The backends of this database holding a LISTEN, by what they listen to. */
const listeners = () =>
  query<{ pid: number; query: string }>(
    testDb.url,
    `SELECT pid, query FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'`,
  );

it("re-listens after its LISTEN connections are terminated: config changes and messages still arrive", async () => {
  const before = await waitFor(
    async () => {
      const l = await listeners();
      return l.some((x) => x.query.includes("clawgate_config")) && l.some((x) => x.query.includes("jobs:insert"))
        ? l
        : undefined;
    },
    10_000,
    "both listeners",
  );
  const killed = await query<{ ok: boolean }>(
    testDb.url,
    `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE pid = ANY($1::int[])`,
    [before.map((l) => l.pid)],
  );
  expect(killed.every((k) => k.ok)).toBe(true);

  // Both come back on new backends.
  await waitFor(
    async () => {
      const l = (await listeners()).filter((x) => !before.some((b) => b.pid === x.pid));
      return l.some((x) => x.query.includes("clawgate_config")) && l.some((x) => x.query.includes("jobs:insert"))
        ? true
        : undefined;
    },
    15_000,
    "both listeners back",
  );

  // A change after the drop reaches the runtime through the NOTIFY, well before the 60 s poll.
  await untilApplied(policy, await setConversation(db, "cid-listen-2"), 5_000);

  // A message in the newly enabled conversation is processed and answered once.
  const { msgId, status } = await fake.deliver({ conversationId: "cid-listen-2", text: "after the drop" });
  expect(status).toBe(200);
  await fake.waitForReplies("cid-listen-2", 1, 15_000);
  await new Promise((r) => setTimeout(r, 800));
  expect(fake.sent.filter((m) => m.conversationId === "cid-listen-2")).toHaveLength(1);
  expect(
    await query<{ status: string }>(testDb.url, `SELECT status FROM "InboundMessage" WHERE "msgId" = $1`, [msgId]),
  ).toEqual([{ status: "REPLIED" }]);
});
