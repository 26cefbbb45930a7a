/**
 * The shared limits end to end: fake DingTalk -> ingress -> queue -> policy gate -> rate limits
 * and token budget -> the demo model (through the model slots) -> reply; usage settled after.
 */
import { usageFor } from "@clawgate/core/limits/budget.ts";
import { completion } from "@clawgate/devstack/demo-model";
import { demoReply, type ChatRequest } from "@clawgate/devstack/demo-model-reply";
import { describe, expect, it } from "vitest";
import { query, waitFor } from "../../test/helpers.ts";
import { createAgent, MODEL_UNAVAILABLE_REPLY } from "../agent/index.ts";
import { WORKING_REPLY } from "../worker/handle-inbound.ts";
import { createModelSlots } from "./model-slots.ts";
import { useBotHarness } from "../../test/harness.ts";

const h = useBotHarness({
  name: "limits",
  demoModel: true,
  // DEFAULT budget: 200,000 tokens a day, 20 requests a minute; GLOBAL 2,000,000 a day.
  seed: "demo-model",
  ingress: true,
  policy: true,
  conversations: ["cid-charge", "cid-down", "cid-budget", "cid-rate", "cid-group", "cid-busy", "cid-slow"],
  queue: {
    // The real agent with the shared model slots, waiting at most 1.5 s for one (10 s by default),
    // giving each back as its call ends (not kept 100 ms for the next call, so the tests can check
    // it right after a turn), and "working on it" after 1 s (4 s by default).
    agent: () =>
      createAgent({
        db: h.db,
        modelSlots: createModelSlots({ pool: h.pool, waitMs: 1_500, lingerMs: 0, logger: h.logger }),
        settings: { workingOnItMs: 1_000 },
      }),
  },
});

const handled = (msgId: string) =>
  waitFor(
    async () => {
      const [row] = await query<{ id: string; status: string; error: string | null; traceId: string }>(
        h.testDb.url,
        `SELECT id, status, error, "traceId" FROM "InboundMessage" WHERE "msgId" = $1`,
        [msgId],
      );
      return row && row.status !== "RECEIVED" && row.status !== "PROCESSING" ? row : undefined;
    },
    10_000,
    "inbound handled",
  );

/** Delivers one message and returns its reply (after a "working on it", if any) and the inbound row once handled. */
async function talk(conversationId: string, senderId: string, text: string) {
  const { msgId, status } = await h.fake.deliver({ conversationId, text, senderId });
  expect(status).toBe(200);
  const interim: string[] = [];
  for (;;) {
    const [reply] = await h.fake.waitForReplies(conversationId, 1, 20_000);
    if (reply!.text !== WORKING_REPLY) return { text: reply!.text, inbound: await handled(msgId), interim };
    interim.push(reply!.text);
  }
}

const chatRequests = () => h.model.requests.filter((r) => r.path === "/v1/chat/completions");
const refusals = async (kind: string) =>
  (await h.metrics.limitRefusals.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;
const liveLeases = async () =>
  (
    await query<{ n: number }>(h.testDb.url, `SELECT count(*)::int AS n FROM "ModelLease" WHERE "expiresAt" > now()`)
  )[0]!.n;

describe("token budgets", () => {
  it("charge an answered turn what the model reported, on the conversation, the user and GLOBAL", async () => {
    const globalBefore = await usageFor(h.db, { scope: "GLOBAL", subject: "" });
    const before = chatRequests().length;
    const { text, inbound } = await talk("cid-charge", "user-charge", "hello");
    expect(text).toContain("Demo model here");
    expect(inbound.status).toBe("REPLIED");
    // What the demo model reported for each request of the turn (it is deterministic).
    const reported = chatRequests()
      .slice(before)
      .reduce(
        (sum, r) =>
          sum + completion("x", r.body as ChatRequest, demoReply(r.body as ChatRequest), "c").usage.total_tokens,
        0,
      );
    expect(reported).toBeGreaterThan(0);
    const conv = await usageFor(h.db, { scope: "CONVERSATION", subject: "cid-charge" });
    const user = await usageFor(h.db, { scope: "USER", subject: "user-charge" });
    const global = await usageFor(h.db, { scope: "GLOBAL", subject: "" });
    expect(conv).toMatchObject({
      source: "DEFAULT",
      day: { used: reported, reserved: 0, limit: 200_000 },
      month: { used: reported, reserved: 0 },
    });
    expect(user.day).toMatchObject({ used: reported, reserved: 0 });
    expect(global.day.used - globalBefore.day.used).toBe(reported);
    expect(await liveLeases()).toBe(0); // the model slot was given back
  });

  it("do not charge a turn whose model is down", async () => {
    h.model.setMode("down");
    try {
      const { text, inbound } = await talk("cid-down", "user-down", "hello");
      expect(text).toBe(MODEL_UNAVAILABLE_REPLY);
      expect(inbound.status).toBe("REPLIED");
    } finally {
      h.model.setMode("ok");
    }
    const conv = await usageFor(h.db, { scope: "CONVERSATION", subject: "cid-down" });
    expect(conv.day).toMatchObject({ used: 0, reserved: 0 });
    expect(conv.month).toMatchObject({ used: 0, reserved: 0 });
    expect(await liveLeases()).toBe(0);
  });

  it("do not charge a turn that found every model slot taken (by another replica), which gets the fallback", async () => {
    const { maxConcurrency } = await h.db.modelEndpoint.findUniqueOrThrow({ where: { name: "local_chat" } });
    // Every slot row of the endpoint (model-slots.ts: `local_chat#0` ..) held by another replica.
    await h.db.$executeRaw`INSERT INTO "ModelLease" ("id", "endpointName", "holder", "expiresAt")
      SELECT 'local_chat#' || g, 'local_chat', 'replica-b', now() + interval '1 minute' FROM generate_series(0, ${maxConcurrency} - 1) g
      ON CONFLICT ("id") DO UPDATE SET "holder" = excluded."holder", "expiresAt" = excluded."expiresAt"`;
    const calls = chatRequests().length;
    try {
      const { text, inbound } = await talk("cid-busy", "user-busy", "hello");
      expect(text).toBe(MODEL_UNAVAILABLE_REPLY);
      expect(inbound.status).toBe("REPLIED");
    } finally {
      await h.db.modelLease.deleteMany({ where: { holder: "replica-b" } });
    }
    expect(chatRequests().length).toBe(calls);
    expect((await usageFor(h.db, { scope: "CONVERSATION", subject: "cid-busy" })).day).toMatchObject({
      used: 0,
      reserved: 0,
    });
    expect((await talk("cid-busy", "user-busy", "hello")).text).toContain("Demo model here");
  });

  it("exhausted: refuses with which budget, when it resets and who can raise it; audited; no model call", async () => {
    await h.db.tokenBudget.create({ data: { scope: "CONVERSATION", subject: "cid-budget", dailyTokens: 50 } });
    const first = await talk("cid-budget", "user-budget", "hello");
    expect(first.text).toContain("Demo model here"); // 50 tokens left: admitted, charged more
    expect((await usageFor(h.db, { scope: "CONVERSATION", subject: "cid-budget" })).day.used).toBeGreaterThan(50);

    const calls = chatRequests().length;
    const budgetRefusals = await refusals("budget");
    const secret = "please summarise the merger plan";
    const { text, inbound } = await talk("cid-budget", "user-budget", secret);
    expect(text).toMatch(
      /^This conversation's daily token budget \(50 tokens\) is used up\. It resets at \d{4}-\d\d-\d\d 00:00 UTC \(in \d+ (min|h)\); an admin can raise it in the Clawgate console \(Budgets\)\.$/,
    );
    expect(chatRequests().length).toBe(calls);
    expect(inbound).toMatchObject({ status: "DENIED", error: "budget.exhausted.conversation.day" });
    expect(await refusals("budget")).toBe(budgetRefusals + 1);
    const audit = await query<Record<string, unknown>>(
      h.testDb.url,
      `SELECT "actorType", action, "targetType", "targetId", diff, "traceId", "configRevision" FROM "AuditLog" WHERE action = 'budget.exhausted'`,
    );
    expect(audit).toEqual([
      {
        actorType: "RUNTIME",
        action: "budget.exhausted",
        targetType: "budget",
        targetId: "CONVERSATION:cid-budget",
        diff: {
          scope: "CONVERSATION",
          source: "CONVERSATION",
          window: "DAY",
          limit: 50,
          used: expect.any(Number),
          resetsAt: expect.any(String),
        },
        traceId: inbound.traceId,
        configRevision: h.policy.snapshot()!.revision,
      },
    ]);
    expect(JSON.stringify(audit)).not.toContain("merger");
    // The refused message reserved nothing.
    expect((await usageFor(h.db, { scope: "CONVERSATION", subject: "cid-budget" })).day.reserved).toBe(0);
  });
});

describe("rate limits", () => {
  it("answer one 'too fast' reply, then drop the rest of the window silently (recorded DENIED)", async () => {
    await h.db.tokenBudget.create({ data: { scope: "USER", subject: "user-fast", requestsPerMinute: 2 } });
    for (let i = 0; i < 2; i++)
      expect((await talk("cid-rate", "user-fast", "hello")).text).toContain("Demo model here");

    const calls = chatRequests().length;
    const limited = await talk("cid-rate", "user-fast", "hello again");
    expect(limited.text).toMatch(/^You are sending messages too fast; try again in (\d+) s\.$/);
    const seconds = Number(/in (\d+) s/.exec(limited.text)![1]);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(limited.inbound).toMatchObject({ status: "DENIED", error: "rate_limited.user" });

    const dropped = await Promise.all(
      [1, 2].map(
        async (i) =>
          (await h.fake.deliver({ conversationId: "cid-rate", text: `spam ${i}`, senderId: "user-fast" })).msgId,
      ),
    );
    for (const msgId of dropped)
      expect(await handled(msgId)).toMatchObject({ status: "DENIED", error: "rate_limited.user" });
    await expect(h.fake.waitForReplies("cid-rate", 1, 700)).rejects.toThrow();
    expect(chatRequests().length).toBe(calls);
    expect(await refusals("rate_limited")).toBe(1);
    expect(await refusals("rate_dropped")).toBe(2);

    // Another user in the same conversation is not affected (the conversation has room).
    expect((await talk("cid-rate", "user-calm", "hello")).text).toContain("Demo model here");
  });

  it("limit a conversation as a whole, whoever writes, by its own row", async () => {
    await h.db.tokenBudget.create({ data: { scope: "CONVERSATION", subject: "cid-group", requestsPerMinute: 1 } });
    expect((await talk("cid-group", "user-g1", "hello")).text).toContain("Demo model here");
    const limited = await talk("cid-group", "user-g2", "hello");
    expect(limited.text).toMatch(/^This conversation is sending messages too fast; try again in \d+ s\.$/);
    expect(limited.inbound).toMatchObject({ status: "DENIED", error: "rate_limited.conversation" });
    const { msgId } = await h.fake.deliver({ conversationId: "cid-group", text: "hello", senderId: "user-g3" });
    expect(await handled(msgId)).toMatchObject({ status: "DENIED", error: "rate_limited.conversation" });
    await expect(h.fake.waitForReplies("cid-group", 1, 500)).rejects.toThrow();
  });
});

describe("a slow turn", () => {
  it("first says it is working on it (once, its own idempotency key), then answers", async () => {
    h.model.setMode("slow", { latencyMs: 2_500 });
    try {
      const { text, inbound, interim } = await talk("cid-slow", "user-slow", "hello");
      expect(interim).toEqual([WORKING_REPLY]);
      expect(text).toContain("Demo model here");
      expect(inbound.status).toBe("REPLIED");
      const sent = await query<{ idempotencyKey: string; status: string }>(
        h.testDb.url,
        `SELECT "idempotencyKey", status FROM "OutboundMessage" WHERE "inboundMessageId" = $1 ORDER BY "sentAt"`,
        [inbound.id],
      );
      expect(sent).toEqual([
        { idempotencyKey: `interim:${inbound.id}`, status: "SENT" },
        { idempotencyKey: `reply:${inbound.id}`, status: "SENT" },
      ]);
    } finally {
      h.model.setMode("ok");
    }
  });
});
