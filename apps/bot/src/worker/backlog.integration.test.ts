/**
 * The per-conversation backlog cap against real PostgreSQL and the fake DingTalk: a flood of one
 * group is stored and acknowledged in full, the first `cap` messages waiting get a turn, the
 * one that crosses the cap gets the notice (audited once), the rest are marked DENIED without a
 * reply; another group is not affected, and once the backlog is answered the group gets turns
 * again. Jobs run in arrival order, one at a time, as the per-conversation queue runs them.
 */
import { createDb, type Db } from "@clawgate/db";
import type { FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type { JobHelpers } from "graphile-worker";
import type pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { query } from "../../test/helpers.ts";
import { startIngressHarness } from "../../test/ingress.ts";
import { enableConversations } from "../../test/policy.ts";
import { queueEnv } from "../../test/queue.ts";
import type { Agent } from "../agent/index.ts";
import { createLogger } from "../logger.ts";
import { createMetrics } from "../metrics.ts";
import { startPolicyRuntime, type PolicyRuntime } from "../policy/runtime.ts";
import type { BotServer } from "../server.ts";
import { BACKLOG_NOTICE, BACKLOG_REASON } from "./backlog.ts";
import { createInboundHandler } from "./handle-inbound.ts";
import { realSenders } from "./queue.ts";
import { createThrottle, throttleLimits } from "./throttle.ts";

let testDb: TestDatabase;
let db: Db;
let pool: pg.Pool;
let app: BotServer;
let fake: FakeDingTalk;
let policy: PolicyRuntime;
const metrics = createMetrics();
const CAP = 3;

beforeAll(async () => {
  testDb = await createTestDatabase({ prefix: "clawgate_bot_backlog" });
  db = createDb(testDb.url);
  ({ pool, app, fake } = await startIngressHarness({
    databaseUrl: testDb.url,
    db,
    logger: createLogger("silent"),
    metrics,
    applicationName: "test-backlog",
  }));
  policy = startPolicyRuntime({ db, databaseUrl: testDb.url, logger: createLogger("silent") });
  await policy.loaded;
  await enableConversations(db, policy, "cid-flood", "cid-calm");
});
afterAll(async () => {
  await policy?.stop();
  await app?.close();
  await fake?.close();
  await pool?.end();
  await db?.$disconnect();
  await testDb?.drop();
});

let turns = 0;
const agent: Agent = {
  reply: async (req) => {
    turns += 1;
    return {
      text: `answer to ${req.text}`,
      outcome: "answered",
      toolCalls: 0,
      approvals: [],
      calls: [],
      usage: { promptTokens: 1, completionTokens: 1 },
      remembered: Promise.resolve(undefined),
    };
  },
};
const handler = () =>
  createInboundHandler({
    db,
    pool,
    throttle: createThrottle(
      pool,
      throttleLimits({ OUTBOUND_ROBOT_PER_SECOND: 1_000, OUTBOUND_CONVERSATION_PER_MINUTE: 1_000 }),
    ),
    senders: realSenders(queueEnv(testDb.url, fake.url)),
    webhookHosts: [new URL(fake.url).host],
    logger: createLogger("silent"),
    metrics,
    policy,
    agent,
    backlogCap: CAP,
  });
const run = (inboundId: string, attempts = 1) =>
  handler()({ inboundId, traceId: `trace-${inboundId}` }, {
    job: { id: "1", attempts, max_attempts: 25 },
    addJob: async () => ({}),
  } as unknown as JobHelpers);
/** The conversation's rows in job order (graphile-worker's run_at order is the arrival order). */
const rows = (cid: string) =>
  query<{ id: string; status: string; error: string | null; text: string }>(
    testDb.url,
    `SELECT i.id, i.status, i.error, btrim(i.payload->'text'->>'content') AS text FROM "InboundMessage" i
       JOIN graphile_worker._private_jobs j ON j.payload->>'inboundId' = i.id
      WHERE i."conversationId" = $1 ORDER BY j.run_at, j.id`,
    [cid],
  );
const sentTo = (cid: string) => fake.sent.filter((m) => m.conversationId === cid).map((m) => m.text);

it("gives a flood's first messages a turn, one notice past the cap, and no turn to the rest", async () => {
  // Ten messages at once in one group (acknowledged, all stored), one in another.
  // (A callback that times out or gets a 503 on a busy machine is delivered again, as DingTalk would: same msgId.)
  const deliver = async (i: number) => {
    for (let attempt = 0; ; attempt++) {
      const ack = await fake
        .deliver({ conversationId: "cid-flood", text: `flood ${i}`, msgId: `flood-${i}` })
        .catch((error: unknown) => {
          if (attempt >= 3) throw error;
          return { status: 0 };
        });
      if (ack.status === 200 || attempt >= 3) return ack;
    }
  };
  const acks = await Promise.all(Array.from({ length: 10 }, (_, i) => deliver(i)));
  expect(acks.every((a) => a.status === 200)).toBe(true);
  await fake.deliver({ conversationId: "cid-calm", text: "calm" });
  const flood = await rows("cid-flood");
  expect(flood).toHaveLength(10);

  for (const r of flood) await run(r.id);
  // A rerun of a capped job (a replica killed after it ran) decides the same and sends nothing new.
  await run(flood[CAP]!.id, 2);
  await run(flood[CAP + 1]!.id, 2);
  for (const r of await rows("cid-calm")) await run(r.id);

  const after = await rows("cid-flood");
  expect(after.map((r) => r.status)).toEqual([
    ...Array<string>(CAP).fill("REPLIED"),
    ...Array<string>(10 - CAP).fill("DENIED"),
  ]);
  expect(after.slice(CAP).every((r) => r.error === BACKLOG_REASON)).toBe(true);
  expect(turns).toBe(CAP + 1); // the flood's first CAP and the calm group's one
  // Answers in arrival order, then exactly one notice.
  expect(sentTo("cid-flood")).toEqual([...after.slice(0, CAP).map((r) => `answer to ${r.text}`), BACKLOG_NOTICE]);
  expect(sentTo("cid-calm")).toEqual(["answer to calm"]);
  const audits = await db.auditLog.findMany({
    where: { action: "conversation.backlog_capped", targetId: "cid-flood" },
  });
  expect(audits).toHaveLength(1);
  expect(audits[0]!.diff).toMatchObject({ cap: CAP, ahead: CAP });
  expect(await metrics.registry.getSingleMetricAsString("clawgate_limit_refusals_total")).toMatch(
    new RegExp(`kind="backlog"} ${10 - CAP}\\b`),
  );

  // The backlog answered, the group is heard again.
  await fake.deliver({ conversationId: "cid-flood", text: "later" });
  const later = (await rows("cid-flood")).at(-1)!;
  await run(later.id);
  expect(sentTo("cid-flood").at(-1)).toBe("answer to later");
});
