/**
 * Message in -> reply out, against real PostgreSQL and the fake DingTalk over real HTTP:
 * sessionWebhook while valid and allowed, the OpenAPI otherwise, one reply per message however
 * often its job runs, throttling, and the retention job. The conversations here are ENABLED
 * (policy refusals have their own tests in worker/policy-gate.integration.test.ts).
 */
import { createAgent, NO_MODEL_REPLY, type Agent, type TurnRequest } from "./agent/index.ts";
import type { FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import type { JobHelpers } from "graphile-worker";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { APP_KEY } from "../test/dingtalk.ts";
import { capturedLogger, query, waitFor } from "../test/helpers.ts";
import type { Logger } from "./logger.ts";
import { createInboundHandler } from "./worker/handle-inbound.ts";
import { realSenders, type Queue } from "./worker/queue.ts";
import { startTestQueue } from "../test/queue.ts";
import { createThrottle, DEFAULT_LIMITS } from "./worker/throttle.ts";
import { useBotHarness } from "../test/harness.ts";

type Inbound = { id: string; status: string; error: string | null };
const inboundByMsgId = async (msgId: string) =>
  (await query<Inbound>(h.testDb.url, `SELECT id, status, error FROM "InboundMessage" WHERE "msgId" = $1`, [msgId]))[0];
const outboundFor = (inboundId: string) =>
  query<{ status: string; channel: string; attempts: number; idempotencyKey: string }>(
    h.testDb.url,
    `SELECT status, channel, attempts, "idempotencyKey" FROM "OutboundMessage" WHERE "inboundMessageId" = $1`,
    [inboundId],
  );
const sentTo = (conversationId: string) => h.fake.sent.filter((m) => m.conversationId === conversationId);

const h = useBotHarness({
  name: "worker",
  pool: { statementTimeoutMs: 30_000 },
  ingress: true,
  policy: true,
  conversations: [
    ...["cid-host", "cid-retry", "cid-concurrent", "cid-limit", "cid-dt-throttle", "cid-noroute"],
    ...["cid-e2e", "cid-expired", "cid-single", "cid-dups", "cid-memory"],
  ],
});

/** Runs the job handler directly, as graphile-worker would, with a recording addJob. */
function handlerHarness(
  opts: { webhookHosts?: string[]; limits?: typeof DEFAULT_LIMITS; agent?: Agent; logger?: Logger } = {},
) {
  const handler = createInboundHandler({
    db: h.db,
    pool: h.pool,
    throttle: createThrottle(h.pool, opts.limits),
    senders: realSenders(h.queueEnv(4)),
    webhookHosts: opts.webhookHosts ?? h.queueEnv(4).DINGTALK_WEBHOOK_HOSTS,
    logger: opts.logger ?? h.logger,
    metrics: h.metrics,
    policy: h.policy,
    agent: opts.agent ?? createAgent({ db: h.db }),
  });
  const addJob = vi.fn(async () => ({}));
  const run = (inboundId: string, attempts = 1) =>
    handler({ inboundId, traceId: "trace-test" }, {
      job: { id: "1", attempts, max_attempts: 25 },
      addJob,
    } as unknown as JobHelpers);
  return { run, addJob };
}

/** Delivers through the fake (HTTP mode) and returns the stored inbound row. */
async function deliver(input: Parameters<FakeDingTalk["deliver"]>[0]) {
  const { msgId, status } = await h.fake.deliver(input);
  expect(status).toBe(200);
  const row = await inboundByMsgId(msgId);
  expect(row).toBeDefined();
  return row!;
}

describe("the job handler, run directly", () => {
  it("replies through the OpenAPI when the sessionWebhook host is not allowed", async () => {
    const row = await deliver({ conversationId: "cid-host", text: "hi" });
    await handlerHarness({ webhookHosts: ["oapi.dingtalk.com"] }).run(row.id);
    expect(sentTo("cid-host").map((m) => m.via)).toEqual(["groupMessages"]);
    expect(await outboundFor(row.id)).toEqual([
      { status: "SENT", channel: "OPENAPI_GROUP", attempts: 1, idempotencyKey: `reply:${row.id}` },
    ]);
    expect(
      (await query<Inbound>(h.testDb.url, `SELECT status FROM "InboundMessage" WHERE id = $1`, [row.id]))[0]?.status,
    ).toBe("REPLIED");
  });

  it("sends once when the same job runs again, and once when two copies run concurrently", async () => {
    const { run } = handlerHarness();
    const first = await deliver({ conversationId: "cid-retry", text: "hello" });
    await run(first.id);
    await run(first.id, 2);
    expect(sentTo("cid-retry")).toHaveLength(1);

    const second = await deliver({ conversationId: "cid-concurrent", text: "hello" });
    // A job whose row was already picked up (status PROCESSING) must still not double-send.
    await query(h.testDb.url, `UPDATE "InboundMessage" SET status = 'PROCESSING' WHERE id = $1`, [second.id]);
    await Promise.all([run(second.id), run(second.id), handlerHarness().run(second.id)]);
    expect(sentTo("cid-concurrent")).toHaveLength(1);
    expect(await outboundFor(second.id)).toMatchObject([{ status: "SENT", attempts: 1 }]);
  });

  it("puts a reply over the per-conversation limit back on the queue instead of sending it", async () => {
    const { run, addJob } = handlerHarness({
      limits: { ...DEFAULT_LIMITS, conversation: { points: 1, durationSec: 60 } },
    });
    const a = await deliver({ conversationId: "cid-limit", text: "one" });
    const b = await deliver({ conversationId: "cid-limit", text: "two" });
    await run(a.id);
    const before = Date.now();
    await run(b.id);
    expect(sentTo("cid-limit")).toHaveLength(1);
    expect(addJob).toHaveBeenCalledTimes(1);
    const [task, payload, spec] = addJob.mock.calls[0] as unknown as [string, Record<string, unknown>, { runAt: Date }];
    expect(task).toBe("inbound.handle");
    expect(payload).toEqual({ inboundId: b.id, traceId: "trace-test", deferrals: 1 });
    expect(spec.runAt.getTime()).toBeGreaterThan(before + 50_000);
    expect(
      (await query<Inbound>(h.testDb.url, `SELECT status FROM "InboundMessage" WHERE id = $1`, [b.id]))[0]?.status,
    ).toBe("PROCESSING");
  });

  it("backs off when DingTalk says too fast, then sends once allowed", async () => {
    const { run, addJob } = handlerHarness();
    const row = await deliver({ conversationId: "cid-dt-throttle", text: "x" });
    h.fake.setThrottle(0);
    try {
      await run(row.id);
    } finally {
      h.fake.setThrottle(undefined);
    }
    expect(addJob).toHaveBeenCalledTimes(1);
    expect(sentTo("cid-dt-throttle")).toHaveLength(0);
    expect(await outboundFor(row.id)).toMatchObject([{ status: "PENDING", attempts: 1 }]);
    await run(row.id, 2);
    expect(sentTo("cid-dt-throttle")).toHaveLength(1);
    expect(await outboundFor(row.id)).toMatchObject([{ status: "SENT", attempts: 2 }]);
  });

  it("hands the agent the memory read with the conversation upsert, and sends and finishes even when the save fails", async () => {
    const seen: TurnRequest[] = [];
    let saved: (error?: Error) => void = () => undefined;
    const agent: Agent = {
      reply: async (req) => {
        seen.push(req);
        const remembered = new Promise<Error | undefined>((resolve) => (saved = resolve));
        return {
          text: `answer ${seen.length}`,
          outcome: "answered",
          toolCalls: 0,
          approvals: [],
          calls: [],
          usage: { promptTokens: 1, completionTokens: 1 },
          remembered,
        };
      },
    };
    const { logger: captured, lines } = capturedLogger();
    const { run } = handlerHarness({ agent, logger: captured });
    const first = await deliver({ conversationId: "cid-memory", text: "one" });
    let finished = false;
    const job = Promise.resolve(run(first.id)).then(() => (finished = true));
    // The reply goes out while the save still runs; the job waits for the save.
    await waitFor(
      async () => (sentTo("cid-memory").length === 1 ? true : undefined),
      10_000,
      "the reply sent before the memory is saved",
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(finished).toBe(false);
    saved(new Error("memory store unavailable"));
    await job;
    expect(seen[0]!.memory).toMatchObject({ key: null, turns: 0, summary: "", recent: [] });
    expect(
      (await query<Inbound>(h.testDb.url, `SELECT status FROM "InboundMessage" WHERE id = $1`, [first.id]))[0]?.status,
    ).toBe("REPLIED");
    expect(lines.find((l) => l.msg === "conversation memory not saved; the next turn lacks this one")).toMatchObject({
      level: 40,
      err: "memory store unavailable",
      traceId: "trace-test",
    });

    const [conv] = await query<{ id: string }>(
      h.testDb.url,
      `SELECT id FROM "Conversation" WHERE "conversationId" = 'cid-memory'`,
    );
    const recent = [
      { role: "user", content: "zero" },
      { role: "assistant", content: "answer 0" },
    ];
    await query(
      h.testDb.url,
      `INSERT INTO "ConversationMemory" ("conversationId", summary, tokens, turns, recent, "updatedAt") VALUES ($1, 'earlier', 9, 3, $2::jsonb, now())`,
      [conv!.id, JSON.stringify(recent)],
    );
    const second = await deliver({ conversationId: "cid-memory", text: "two" });
    const job2 = run(second.id);
    await waitFor(async () => (seen.length === 2 ? true : undefined), 10_000, "the second turn");
    saved();
    await job2;
    expect(seen[1]!.memory).toEqual({ key: conv!.id, turns: 3, summary: "earlier", recent });
    expect(sentTo("cid-memory").map((m) => m.text)).toEqual(["answer 1", "answer 2"]);
    expect(lines.filter((l) => l.msg === "conversation memory not saved; the next turn lacks this one")).toHaveLength(
      1,
    );
  });

  it("fails the message (no retry) when there is no route to reply on", async () => {
    const row = await deliver({
      conversationId: "cid-noroute",
      text: "x",
      conversationType: "1",
      sessionWebhookExpired: true,
      senderStaffId: "",
    });
    await handlerHarness().run(row.id);
    const after = await query<Inbound>(h.testDb.url, `SELECT id, status, error FROM "InboundMessage" WHERE id = $1`, [
      row.id,
    ]);
    expect(after[0]).toMatchObject({ status: "FAILED", error: expect.stringContaining("no route") });
  });
});

describe("the queue in this process", () => {
  let queue: Queue;
  beforeAll(async () => {
    queue = await startTestQueue({
      env: h.queueEnv(4),
      db: h.db,
      logger: h.logger,
      metrics: h.metrics,
      policy: h.policy,
    });
  });
  afterAll(async () => {
    await queue?.stop();
  });

  it("replies through the sessionWebhook, without echoing the text, and records conversation and outbound", async () => {
    const secret = "my secret plan 1234";
    const { msgId } = await h.fake.deliver({
      conversationId: "cid-e2e",
      conversationTitle: "E2E group",
      text: ` ${secret}`,
    });
    const [reply] = await h.fake.waitForReplies("cid-e2e", 1, 10_000);
    expect(reply).toMatchObject({ via: "sessionWebhook", text: NO_MODEL_REPLY });
    expect(reply!.text).not.toContain(secret);
    const row = await waitFor(
      async () => {
        const r = await inboundByMsgId(msgId);
        return r?.status === "REPLIED" ? r : undefined;
      },
      5_000,
      "REPLIED",
    );
    expect(await outboundFor(row.id)).toEqual([
      { status: "SENT", channel: "SESSION_WEBHOOK", attempts: 1, idempotencyKey: `reply:${row.id}` },
    ]);
    const conv = await query(
      h.testDb.url,
      `SELECT "conversationId", status, type, title, "robotCode" FROM "Conversation" WHERE "conversationId" = 'cid-e2e'`,
    );
    expect(conv).toEqual([
      { conversationId: "cid-e2e", status: "ENABLED", type: "GROUP", title: "E2E group", robotCode: APP_KEY },
    ]);
  });

  it("replies through the OpenAPI when the sessionWebhook has expired (group and single chat)", async () => {
    await h.fake.deliver({ conversationId: "cid-expired", text: "hi", sessionWebhookExpired: true });
    await h.fake.deliver({
      conversationId: "cid-single",
      text: "hi",
      conversationType: "1",
      senderId: "user-7",
      sessionWebhookExpired: true,
    });
    const [group] = await h.fake.waitForReplies("cid-expired", 1, 10_000);
    expect(group?.via).toBe("groupMessages");
    const [single] = await h.fake.waitForReplies("cid-single", 1, 10_000);
    expect(single).toMatchObject({ via: "oToMessages", userIds: ["user-7"] });
  });

  it("answers a burst of duplicates with one reply", async () => {
    const msgId = `dup-${Date.now()}`;
    const results = await Promise.all(
      Array.from({ length: 5 }, () => h.fake.deliver({ conversationId: "cid-dups", text: "same", msgId })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    await h.fake.waitForReplies("cid-dups", 1, 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sentTo("cid-dups")).toHaveLength(1);
  });
});
