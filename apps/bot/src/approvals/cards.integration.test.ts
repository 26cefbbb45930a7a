/**
 * Approve from DingTalk, through the fake DingTalk speaking the real card protocol: a write
 * request -> a card in the approver chat (outTrackId = the request id) -> a click by a mapped
 * approver (signed HTTP callback, or Stream) -> executed once -> the reply in the original
 * conversation -> the card updated for everyone. And every refusal: self-approval, an unmapped
 * user, a DESTRUCTIVE request, a bad or stale signature, the same click on two replicas.
 */
import { recordConfigChange, seedDemo, type Actor } from "@clawgate/core";
import { approvalMetrics, decideApproval } from "@clawgate/core/approvals.ts";
import { createDb, type Db } from "@clawgate/db";
import { cardCallbackSign } from "@clawgate/dingtalk";
import { startDemoModel, type DemoModel } from "@clawgate/devstack/demo-model";
import { startFakeDingTalk, type FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { startFakeInternalApi, type FakeInternalApi } from "@clawgate/devstack/fake-internal-api";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { APP_KEY, APP_SECRET } from "../../test/dingtalk.ts";
import { query, waitFor } from "../../test/helpers.ts";
import { enableConversations, untilApplied } from "../../test/policy.ts";
import { queueEnv, startTestQueue } from "../../test/queue.ts";
import { createPgPool } from "../db-pool.ts";
import { createIngest } from "../ingress/ingest.ts";
import { startStreamIngress, type StreamIngress } from "../ingress/stream.ts";
import { createLogger } from "../logger.ts";
import { createMetrics } from "../metrics.ts";
import { startPolicyRuntime, type PolicyRuntime } from "../policy/runtime.ts";
import { buildServer, type BotServer } from "../server.ts";
import { prepareQueueSchema, type Queue } from "../worker/queue.ts";
import { click, say } from "../commands/say.ts";
import { createCardCallbackHandler } from "./card-callback.ts";
import { sweepApprovals } from "./sweep.ts";

const CARD_SECRET = "card-callback-secret-0123456789";
const SYSTEM: Actor = { type: "SYSTEM", name: "test" };
const logger = createLogger("silent");
const metrics = createMetrics();

let testDb: TestDatabase;
let db: Db;
let pool: pg.Pool;
let replicas: BotServer[] = [];
let cardUrls: string[] = [];
let fake: FakeDingTalk;
let model: DemoModel;
let api: FakeInternalApi;
let queues: Queue[] = [];
let policy: PolicyRuntime;
let stream: StreamIngress | undefined;
let approverName: string;

const APPROVALS = {
  card_template_id: "tpl.clawgate-approval",
  approver_chats: ["cid-approvers", "cid-approvers-2"],
  escalation_chat: "cid-escalate",
  escalate_after_minutes: 5,
};

const setSection = (value: object) =>
  db.configSection.upsert({ where: { key: "approvals" }, create: { key: "approvals", value }, update: { value } });

beforeAll(async () => {
  testDb = await createTestDatabase({ prefix: "clawgate_bot_cards" });
  db = createDb(testDb.url);
  [model, api] = await Promise.all([startDemoModel({ port: 0 }), startFakeInternalApi({ port: 0 })]);
  await seedDemo(db, { modelBaseUrl: model.url, internalApiBaseUrl: api.url });
  // The approvers' DingTalk identities, as the onboard file declares them.
  const approver = await db.user.update({
    where: { id: (await db.user.findFirstOrThrow({ where: { role: "APPROVER" } })).id },
    data: { dingtalkUserId: "dt-approver" },
  });
  approverName = approver.name ?? approver.email!;
  await db.user.update({
    where: { id: (await db.user.findFirstOrThrow({ where: { role: "ADMIN" } })).id },
    data: { dingtalkUserId: "dt-admin" },
  });
  await db.user.update({
    where: { id: (await db.user.findFirstOrThrow({ where: { role: "VIEWER" } })).id },
    data: { dingtalkUserId: "dt-viewer" },
  });
  await setSection(APPROVALS);
  await db.featureFlag.update({ where: { key: "approvals.dingtalk_cards" }, data: { enabled: true } });

  pool = createPgPool(testDb.url, { applicationName: "test-cards" });
  await prepareQueueSchema(pool);
  const ingest = createIngest({ pool, robotCode: APP_KEY });
  const cardCallback = createCardCallbackHandler({ db, logger, metrics });
  const env = {
    DINGTALK_MODE: "http" as const,
    DINGTALK_APP_KEY: APP_KEY,
    DINGTALK_APP_SECRET: APP_SECRET,
    DINGTALK_CARD_CALLBACK_SECRET: CARD_SECRET,
  };
  // Two replicas behind DingTalk: either may receive a click.
  replicas = [0, 1].map(() => buildServer({ env, db, logger, metrics, ingest, cardCallback }));
  const bases = await Promise.all(replicas.map((r) => r.listen({ host: "127.0.0.1", port: 0 })));
  cardUrls = bases.map((b) => `${b}/dingtalk/card`);
  fake = await startFakeDingTalk({
    port: 0,
    appKey: APP_KEY,
    appSecret: APP_SECRET,
    callbackUrl: `${bases[0]}/dingtalk/robot`,
    cardCallback: { url: cardUrls[0]!, apiSecret: CARD_SECRET },
    pingIntervalMs: 0,
  });
  policy = startPolicyRuntime({ db, databaseUrl: testDb.url, logger, pollIntervalMs: 10 * 60_000 });
  await policy.loaded;
  await enableConversations(db, policy, "cid-cards", "cid-approvers", "cid-approvers-2", "cid-escalate");
  const qenv = { ...queueEnv(testDb.url, fake.url), CLAWGATE_CONSOLE_URL: "https://console.example" };
  queues = await Promise.all([0, 1].map(() => startTestQueue({ env: qenv, db, logger, metrics, policy })));
  // Stream mode on the same runtime: clicks over the WebSocket go through the same handler.
  stream = startStreamIngress({
    clientId: APP_KEY,
    clientSecret: APP_SECRET,
    apiBase: fake.url,
    ingest,
    logger,
    metrics,
    cardCallback,
  });
  await waitFor(async () => (stream!.connected() ? true : undefined), 10_000, "stream connected");
});

afterAll(async () => {
  await stream?.stop();
  await Promise.all(queues.map((q) => q.stop()));
  await policy?.stop();
  await Promise.all(replicas.map((r) => r.close()));
  await fake?.close();
  await Promise.all([model?.close(), api?.close()]);
  await pool?.end();
  await db?.$disconnect();
  await testDb?.drop();
});

const ticketPosts = () => api.requests.filter((r) => r.method === "POST" && r.path === "/tickets");
const jobsLeft = async () =>
  (
    await query<{ n: number }>(
      testDb.url,
      `SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier IN ('approval.execute', 'approval.notify')`,
    )
  )[0]!.n;
const allJobsDone = () => waitFor(async () => ((await jobsLeft()) === 0 ? true : undefined), 20_000, "jobs done");
const state = (id: string) => db.approvalRequest.findUniqueOrThrow({ where: { id }, include: { decisions: true } });

/** The user asks (over HTTP or Stream); the request's card appears in the approver chats. */
async function requestTicket(title: string, senderId = "user-1") {
  await fake.deliver({
    conversationId: "cid-cards",
    text: `create a ticket in OPS: ${title}`,
    senderId,
    senderNick: senderId === "user-1" ? "Li Lei" : senderId,
    conversationTitle: "Facilities",
    via: "http",
  });
  const [reply] = await fake.waitForReplies("cid-cards", 1, 20_000);
  expect(reply!.text).toMatch(/This action waits for approval; I will reply here once an approver has decided\.$/);
  const request = await db.approvalRequest.findFirstOrThrow({
    where: { conversationId: "cid-cards", status: "PENDING" },
    orderBy: { createdAt: "desc" },
  });
  expect(reply!.text).not.toContain(request.id);
  const card = await fake.waitForCard(request.id, (c) => c.spaces.length === 2);
  return { request, card };
}

describe("approval cards", () => {
  it("HTTP: card in both approver chats with people not ids; a mapped approver's click executes once, replies, updates the card", async () => {
    const { request, card } = await requestTicket("broken chair");
    expect(card).toMatchObject({
      templateId: APPROVALS.card_template_id,
      callbackType: "HTTP",
      spaces: ["dtv1.card//IM_GROUP.cid-approvers", "dtv1.card//IM_GROUP.cid-approvers-2"],
      params: {
        skill: "ticket.create",
        risk: "WRITE",
        requester: "Li Lei (user-1)",
        conversation: "Facilities",
        status: "PENDING",
        approvals: "0 of 1",
        decidable: "true",
        consoleUrl: `https://console.example/approvals?request=${request.id}`,
      },
    });
    expect(JSON.parse(card.params.arguments!)).toEqual({ project: "OPS", title: "broken chair", body: "" });
    const posts = ticketPosts().length;

    const started = performance.now();
    const click = await fake.clickCard({ outTrackId: request.id, userId: "dt-approver", action: "approve" });
    expect(performance.now() - started).toBeLessThan(2_000); // DingTalk's deadline for the answer
    expect(click).toMatchObject({
      status: 200,
      response: { userPrivateData: { cardParamMap: { message: "You approved this request; it runs now." } } },
    });
    const [reply] = await fake.waitForReplies("cid-cards", 1, 20_000);
    expect(reply!.text).toMatch(new RegExp(`^Your request ticket.create was approved by ${approverName} and done: `));
    const updated = await fake.waitForCard(request.id, (c) => c.params.status === "EXECUTED");
    expect(updated.params).toMatchObject({ statusText: `Approved by ${approverName}; executed`, decidable: "false" });
    await allJobsDone();
    expect(ticketPosts()).toHaveLength(posts + 1);
    expect(await state(request.id)).toMatchObject({
      status: "EXECUTED",
      decisions: [expect.objectContaining({ channel: "CARD", dingtalkUserId: "dt-approver", approve: true })],
    });
  });

  it("Stream: a reject click rejects; nothing runs; the requester is told; the card says who rejected", async () => {
    const { request } = await requestTicket("gold-plated stapler");
    const posts = ticketPosts().length;
    const click = await fake.clickCard({ outTrackId: request.id, userId: "dt-admin", action: "reject", via: "stream" });
    expect(click).toMatchObject({
      status: 0,
      response: { userPrivateData: { cardParamMap: { message: "You rejected this request; the requester is told." } } },
    });
    const [reply] = await fake.waitForReplies("cid-cards", 1, 20_000);
    expect(reply!.text).toMatch(/^Your request ticket.create was rejected by .+: no reason given\.$/);
    await fake.waitForCard(request.id, (c) => c.params.status === "REJECTED");
    await allJobsDone();
    expect(ticketPosts()).toHaveLength(posts);
  });

  it("Stream: an approve click executes once too", async () => {
    const { request } = await requestTicket("stream chair");
    const posts = ticketPosts().length;
    await fake.clickCard({ outTrackId: request.id, userId: "dt-approver", action: "approve", via: "stream" });
    await fake.waitForReplies("cid-cards", 1, 20_000);
    await fake.waitForCard(request.id, (c) => c.params.status === "EXECUTED");
    await allJobsDone();
    expect(ticketPosts()).toHaveLength(posts + 1);
  });

  it("refuses on the card, changing nothing: self-approval, an unmapped user, a viewer, an unknown action", async () => {
    const { request } = await requestTicket("my own laptop", "dt-approver");
    const message = async (userId: string, action = "approve") => {
      const r = await fake.clickCard({ outTrackId: request.id, userId, action });
      expect(r.status).toBe(200);
      return (r.response as { userPrivateData: { cardParamMap: { message: string } } }).userPrivateData.cardParamMap
        .message;
    };
    expect(await message("dt-approver")).toMatch(/you made this request/i);
    expect(await message("dt-stranger")).toMatch(/not an approver in Clawgate/);
    expect(await message("dt-viewer")).toMatch(/not an approver in Clawgate/);
    expect(await message("dt-admin", "delete")).toMatch(/Unknown action/);
    expect(await state(request.id)).toMatchObject({ status: "PENDING", decisions: [] });
    // Another approver may.
    await fake.clickCard({ outTrackId: request.id, userId: "dt-admin", action: "reject" });
    await fake.waitForReplies("cid-cards", 1, 20_000);
    await allJobsDone();
  });

  it("a bad or stale signature, or none: 401 and nothing changed", async () => {
    const { request } = await requestTicket("signed chair");
    const bad = await fake.clickCard({
      outTrackId: request.id,
      userId: "dt-approver",
      action: "approve",
      apiSecret: "not-the-secret-at-all",
    });
    expect(bad.status).toBe(401);
    const stale = await fake.clickCard({
      outTrackId: request.id,
      userId: "dt-approver",
      action: "approve",
      timestamp: Date.now() - 3_600_001,
    });
    expect(stale.status).toBe(401);
    const unsigned = await fetch(cardUrls[0]!, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(unsigned.status).toBe(401);
    expect(await state(request.id)).toMatchObject({ status: "PENDING", decisions: [] });
    await decideApproval(
      db,
      { type: "USER", id: (await db.user.findFirstOrThrow({ where: { role: "ADMIN" } })).id, name: "admin" },
      {
        id: request.id,
        approve: false,
      },
    );
    await fake.waitForReplies("cid-cards", 1, 20_000);
    await allJobsDone();
  });

  it("two replicas receiving the same click: one vote, executed once", async () => {
    const { request } = await requestTicket("twice chair");
    const posts = ticketPosts().length;
    const body = JSON.stringify({
      type: "actionCallback",
      outTrackId: request.id,
      userId: "dt-approver",
      content: JSON.stringify({ cardPrivateData: { actionIds: ["approve"], params: {} } }),
    });
    const timestamp = String(Date.now());
    const headers = {
      "content-type": "application/json",
      "x-ddpaas-signature-timestamp": timestamp,
      "x-ddpaas-signature": cardCallbackSign(timestamp, CARD_SECRET),
    };
    const answers = await Promise.all(
      cardUrls.map(async (url) => {
        const res = await fetch(url, { method: "POST", headers, body });
        expect(res.status).toBe(200);
        return ((await res.json()) as { userPrivateData: { cardParamMap: { message: string } } }).userPrivateData
          .cardParamMap.message;
      }),
    );
    expect(answers.filter((m) => m === "You approved this request; it runs now.")).toHaveLength(1);
    expect(answers.filter((m) => /already decided/.test(m))).toHaveLength(1);
    await fake.waitForReplies("cid-cards", 1, 20_000);
    await allJobsDone();
    expect(ticketPosts()).toHaveLength(posts + 1);
    expect((await state(request.id)).decisions).toHaveLength(1);
  });

  it("DESTRUCTIVE: not decidable from a card; two distinct approvers in the console; the card shows 1 of 2", async () => {
    const setRisk = async (riskClass: "WRITE" | "DESTRUCTIVE") =>
      untilApplied(
        policy,
        await db.$transaction(async (tx) => {
          await tx.skill.update({ where: { key: "ticket.create" }, data: { riskClass } });
          return recordConfigChange(tx, {
            actor: SYSTEM,
            action: "skill.update",
            targetType: "skill",
            targetId: "ticket.create",
            summary: riskClass,
          });
        }),
      );
    await setRisk("DESTRUCTIVE");
    try {
      const { request, card } = await requestTicket("wipe the old file server");
      expect(request).toMatchObject({ riskClass: "DESTRUCTIVE", requiredApprovals: 2 });
      expect(card.params).toMatchObject({ decidable: "false", approvals: "0 of 2" });
      const click = await fake.clickCard({ outTrackId: request.id, userId: "dt-approver", action: "approve" });
      expect(JSON.stringify(click.response)).toContain("decided in the Clawgate console only");
      expect((await state(request.id)).decisions).toHaveLength(0);

      const users = await db.user.findMany({
        where: { role: { in: ["APPROVER", "ADMIN"] } },
        orderBy: { role: "asc" },
      });
      const [admin, approver] = users as [(typeof users)[0], (typeof users)[0]];
      const posts = ticketPosts().length;
      await decideApproval(db, { type: "USER", id: approver.id, name: "approver" }, { id: request.id, approve: true });
      await fake.waitForCard(request.id, (c) => c.params.approvals === "1 of 2");
      expect(ticketPosts()).toHaveLength(posts);
      await decideApproval(db, { type: "USER", id: admin.id, name: "admin" }, { id: request.id, approve: true });
      await fake.waitForReplies("cid-cards", 1, 20_000);
      await fake.waitForCard(request.id, (c) => c.params.status === "EXECUTED");
      await allJobsDone();
      expect(ticketPosts()).toHaveLength(posts + 1);
    } finally {
      await setRisk("WRITE");
    }
  });

  it("expiry: EXPIRED, the requester told, the card updated; escalation re-announces to the escalation chat", async () => {
    const { request: old } = await requestTicket("escalate me");
    await query(testDb.url, `UPDATE "ApprovalRequest" SET "createdAt" = now() - interval '6 minutes' WHERE id = $1`, [
      old.id,
    ]);
    expect((await sweepApprovals(db)).escalated).toBe(1);
    await fake.waitForCard(old.id, (c) => c.spaces.includes("dtv1.card//IM_GROUP.cid-escalate"));
    expect((await sweepApprovals(db)).escalated).toBeUndefined(); // once

    await query(testDb.url, `UPDATE "ApprovalRequest" SET "expiresAt" = now() - interval '1 second' WHERE id = $1`, [
      old.id,
    ]);
    expect((await sweepApprovals(db)).expired).toBe(1);
    const [reply] = await fake.waitForReplies("cid-cards", 1, 20_000);
    expect(reply!.text).toBe("Your request ticket.create expired without a decision. Ask again if you still need it.");
    await fake.waitForCard(old.id, (c) => c.params.status === "EXPIRED");
    const click = await fake.clickCard({ outTrackId: old.id, userId: "dt-approver", action: "approve" });
    expect(JSON.stringify(click.response)).toContain("expired");
    await allJobsDone();
  });

  it("without a card template: a markdown message with a console link in each approver chat, once", async () => {
    await setSection({ approver_chats: ["cid-approvers"] });
    try {
      const before = fake.sent.filter((s) => s.conversationId === "cid-approvers").length;
      await fake.deliver({
        conversationId: "cid-cards",
        text: "create a ticket in OPS: no card",
        senderId: "user-1",
        senderNick: "Li Lei",
        conversationTitle: "Facilities",
        via: "http",
      });
      await fake.waitForReplies("cid-cards", 1, 20_000);
      const request = await db.approvalRequest.findFirstOrThrow({
        where: { conversationId: "cid-cards", status: "PENDING" },
        orderBy: { createdAt: "desc" },
      });
      const [md] = await fake.waitForReplies("cid-approvers", 1, 20_000);
      expect(md).toMatchObject({ via: "groupMessages", msgKey: "sampleMarkdown", title: "Approval: ticket.create" });
      expect(md!.text).toContain(`(https://console.example/approvals?request=${request.id})`);
      expect(md!.text).toContain("Requested by **Li Lei (user-1)** in **Facilities**");
      await allJobsDone();
      expect(fake.sent.filter((s) => s.conversationId === "cid-approvers")).toHaveLength(before + 1);
      expect(fake.cards.has(request.id)).toBe(false);
    } finally {
      await setSection(APPROVALS);
    }
  });

  it("approver metrics on /metrics: pending, time to decision p50/p95, expiry rate, card clicks", async () => {
    metrics.approvalStats = () => approvalMetrics(db);
    const res = { body: await metrics.registry.metrics() };
    expect(res.body).toMatch(/^clawgate_approvals\{stat="pending"\} \d+$/m);
    expect(res.body).toMatch(/^clawgate_approvals\{stat="decision_p50_seconds"\} [\d.e-]+$/m);
    expect(res.body).toMatch(/^clawgate_approvals\{stat="decision_p95_seconds"\} [\d.e-]+$/m);
    expect(res.body).toMatch(/^clawgate_approvals\{stat="expiry_rate"\} 0\.\d+$/m);
    expect(res.body).toMatch(/^clawgate_approval_card_clicks_total\{outcome="approved"\} [1-9]\d*$/m);
    expect(res.body).toMatch(/^clawgate_approval_card_clicks_total\{outcome="bad_signature"\} [1-9]\d*$/m);
  });

  it("the CLI: `clawgate say` prints the card it caused, `clawgate click` approves it as a DingTalk user", async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
    const env = process.env.DINGTALK_FAKE_URL;
    process.env.DINGTALK_FAKE_URL = fake.url;
    try {
      const posts = ticketPosts().length;
      expect(await say("create a ticket in OPS: cli chair", { conversation: "cid-cards", via: "http" })).toBe(0);
      const request = await db.approvalRequest.findFirstOrThrow({
        where: { conversationId: "cid-cards", status: "PENDING" },
        orderBy: { createdAt: "desc" },
      });
      await fake.waitForCard(request.id, (c) => c.spaces.length === 2);
      expect(lines.join("\n")).toMatch(/This action waits for approval/);
      expect(lines.join("\n")).toContain(`npx clawgate click ${request.id} approve --as`);
      expect(await click(request.id, "approve", { as: "dt-approver" })).toBe(0);
      expect(lines).toContain("card (to dt-approver): You approved this request; it runs now.");
      expect(lines).toContain(`card (everyone): Approved by ${approverName}; executed`);
      await fake.waitForReplies("cid-cards", 2, 20_000); // say's own reply, then the result
      await allJobsDone();
      expect(ticketPosts()).toHaveLength(posts + 1);
    } finally {
      log.mockRestore();
      if (env === undefined) delete process.env.DINGTALK_FAKE_URL;
      else process.env.DINGTALK_FAKE_URL = env;
    }
  });
});
