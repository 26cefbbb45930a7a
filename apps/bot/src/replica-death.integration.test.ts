/**
 * A replica SIGKILLed with jobs in flight: the survivors release its jobs (its heartbeat stopped)
 * and every acknowledged message is answered exactly once, within 30 s of the kill, with the
 * default heartbeat and dead-after settings.
 */
import { createDb } from "@clawgate/db";
import { startDemoModel, type DemoModel } from "@clawgate/devstack/demo-model";
import { startFakeDingTalk, type FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, expect, it } from "vitest";
import { APP_KEY, APP_SECRET } from "../test/dingtalk.ts";
import { freePort, killChild, query, startServe, waitFor, type CliProcess } from "../test/helpers.ts";
import { setConversation } from "../test/policy.ts";

const MESSAGES = 12;
const MODEL_LATENCY_MS = 3_000;

let testDb: TestDatabase | undefined;
let fake: FakeDingTalk | undefined;
let model: DemoModel | undefined;
const running: CliProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((c) => killChild(c)));
  await fake?.close();
  await model?.close();
  await testDb?.drop();
});

it("answers every message of a killed replica exactly once within 30 s", { timeout: 120_000 }, async () => {
  testDb = await createTestDatabase({ prefix: "clawgate_bot_replica_death" });
  const conversations = Array.from({ length: MESSAGES }, (_, i) => `cid-death-${i}`);
  const db = createDb(testDb.url);
  try {
    for (const id of conversations) await setConversation(db, id);
  } finally {
    await db.$disconnect();
  }
  model = await startDemoModel({ port: 0, latencyMs: MODEL_LATENCY_MS });
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  fake = await startFakeDingTalk({
    port: 0,
    appKey: APP_KEY,
    appSecret: APP_SECRET,
    // Messages arrive at a survivor; which replica runs a job is the queue's choice.
    callbackUrl: `http://127.0.0.1:${ports[2]}/dingtalk/robot`,
  });
  const vars = {
    LOG_LEVEL: "warn",
    DATABASE_URL: testDb.url,
    DINGTALK_APP_KEY: APP_KEY,
    DINGTALK_APP_SECRET: APP_SECRET,
    DINGTALK_API_BASE: fake.url,
    DINGTALK_WEBHOOK_HOSTS: new URL(fake.url).host,
    LOCAL_MODEL_BASE_URL: model.url,
    WORKER_CONCURRENCY: "4",
    // No "working on it" message: one reply per message is the whole story.
    AGENT_WORKING_ON_IT_MS: "60000",
  };
  const replicas = await Promise.all(
    ports.map((port) => startServe({ ...vars, PORT: String(port) }, { running, timeoutMs: 60_000 })),
  );
  const victim = replicas[0]!.cli;

  const delivered = await Promise.all(
    conversations.map((conversationId) => fake!.deliver({ conversationId, text: "hi" })),
  );
  expect(delivered.map((d) => d.status)).toEqual(conversations.map(() => 200));

  // The victim holds jobs mid-turn (the model takes 3 s) when it dies.
  const held = await waitFor(
    async () => {
      const [row] = await query<{ n: number }>(
        testDb!.url,
        `SELECT count(*)::int AS n FROM graphile_worker._private_jobs j
           JOIN "RuntimeInstance" r ON j.locked_by = ANY(r."queueWorkerIds") WHERE r.pid = $1`,
        [victim.child.pid],
      );
      return row && row.n > 0 ? row.n : undefined;
    },
    10_000,
    "the victim holding jobs",
  );
  victim.child.kill("SIGKILL");
  const killedAt = Date.now();
  await victim.exited;

  for (const cid of conversations) await fake.waitForReplies(cid, 1, Math.max(1, killedAt + 30_000 - Date.now()));
  const answeredIn = Date.now() - killedAt;
  // Any second answer would show up now: none may.
  await new Promise((r) => setTimeout(r, 3_000));
  for (const cid of conversations)
    expect(
      fake.sent.filter((m) => m.conversationId === cid),
      cid,
    ).toHaveLength(1);
  expect(await query(testDb.url, `SELECT status::text, count(*)::int AS n FROM "InboundMessage" GROUP BY 1`)).toEqual([
    { status: "REPLIED", n: MESSAGES },
  ]);
  expect(
    await query(testDb.url, `SELECT id FROM graphile_worker.jobs WHERE task_identifier = 'inbound.handle'`),
  ).toEqual([]);
  expect(held).toBeGreaterThan(0);
  expect(answeredIn).toBeLessThan(30_000);
});
