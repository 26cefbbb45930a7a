/**
 * Day one in production, the way an operator installs it (README "Production install"), with
 * no demo seed anywhere: an empty database -> `clawgate migrate` (bootstrap) -> `clawgate user
 * add` the first ADMIN -> `clawgate onboard` of a minimal file (one model, one enabled
 * conversation, an approver with their DingTalk identity, approval cards on) -> `clawgate serve`
 * behind the fake DingTalk. A signed message asking to search the KB is answered with kb.search's
 * result; a ticket request waits for an approver, whose click on the card (signed HTTP callback to
 * the URL serve registered) runs it once.
 */
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startDemoModel, type DemoModel } from "@clawgate/devstack/demo-model";
import { startFakeDingTalk, type FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { startFakeInternalApi, type FakeInternalApi } from "@clawgate/devstack/fake-internal-api";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_KEY, APP_SECRET } from "../test/dingtalk.ts";
import { cliEnv, freePort, killChild, query, runCli, startServe, type CliProcess } from "../test/helpers.ts";

const CONVERSATION = "cid-prod-path";

let testDb: TestDatabase;
let model: DemoModel;
let api: FakeInternalApi;
let fake: FakeDingTalk;
let dir: string;
const running: CliProcess[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase({ migrate: false, prefix: "clawgate_bot_prodpath" });
  [model, api, dir] = await Promise.all([
    startDemoModel({ port: 0 }),
    startFakeInternalApi({ port: 0 }),
    mkdtemp(path.join(tmpdir(), "clawgate-prodpath-")),
  ]);
});
afterAll(async () => {
  await Promise.all(running.map((c) => killChild(c)));
  await fake?.close();
  await Promise.all([model?.close(), api?.close()]);
  await rm(dir, { recursive: true, force: true });
  await testDb?.drop();
});

const ok = (run: { code: number | null; stderr: string }) => {
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
};

describe("production path: migrate, user add, onboard, serve (no demo seed)", () => {
  it("answers with a READ skill's result and holds a write for approval", async () => {
    const env = cliEnv({ DATABASE_URL: testDb.url });

    const migrate = await runCli(["migrate"], env);
    ok(migrate);
    expect(migrate.stdout).toContain("create skill kb.search");

    ok(await runCli(["user", "add", "--email", "ops-lead@corp.example", "--role", "ADMIN"], env));

    const file = path.join(dir, "clawgate.yaml");
    await writeFile(
      file,
      [
        "models:",
        "  prod_chat:",
        "    kind: openai_compatible",
        `    base_url: ${model.url}`,
        "    model: clawgate-demo",
        "routing:",
        "  defaults:",
        "    model: prod_chat",
        "conversations:",
        `  - { id: ${CONVERSATION}, title: Ops, environment: prod, enabled: true }`,
        // Only the company's internal API address: whether skills are on comes from bootstrap.
        "skills:",
        ...["kb.search", "ticket.create"].map((key) => `  - { key: ${key}, settings: { baseUrl: "${api.url}" } }`),
        "users:",
        "  - { email: approver@corp.example, role: approver, dingtalk: { user_id: staff-appr } }",
        "flags:",
        "  approvals.dingtalk_cards: on",
        "approvals:",
        "  card_template_id: tpl.prod-approval",
        "  approver_chats: [cid-prod-approvers]",
        "",
      ].join("\n"),
    );
    const onboard = await runCli(["onboard", "--channel", "dingtalk", "--config", file], env);
    ok(onboard);
    expect(onboard.stdout).toContain("create conversation cid-prod-path");

    // doctor passes on this install (no budget is only a warning) ...
    const doctorEnv = cliEnv({
      DATABASE_URL: testDb.url,
      DINGTALK_MODE: "http",
      DINGTALK_APP_KEY: APP_KEY,
      DINGTALK_APP_SECRET: APP_SECRET,
    });
    const doctor = await runCli(["doctor"], doctorEnv);
    expect(doctor.stdout).toContain("All checks passed");
    expect(doctor.code).toBe(0);

    const port = await freePort();
    fake = await startFakeDingTalk({
      port: 0,
      appKey: APP_KEY,
      appSecret: APP_SECRET,
      callbackUrl: `http://127.0.0.1:${port}/dingtalk/robot`,
    });
    await startServe(
      {
        PORT: String(port),
        DATABASE_URL: testDb.url,
        DINGTALK_APP_KEY: APP_KEY,
        DINGTALK_APP_SECRET: APP_SECRET,
        DINGTALK_API_BASE: fake.url,
        DINGTALK_WEBHOOK_HOSTS: new URL(fake.url).host,
        DINGTALK_CARD_CALLBACK_SECRET: "prod-path-card-secret-0123456789",
        DINGTALK_CARD_CALLBACK_URL: `http://127.0.0.1:${port}/dingtalk/card`,
      },
      { running },
    );

    const kb = await fake.deliver({ conversationId: CONVERSATION, text: "search the kb for vpn", senderId: "staff-7" });
    expect(kb.status).toBe(200);
    const [kbReply] = await fake.waitForReplies(CONVERSATION, 1, 20_000);
    expect(kbReply!.text).toContain("Result of kb_search");
    expect(kbReply!.text).toContain("VPN");
    expect(api.requests.some((r) => r.method === "GET" && r.path.startsWith("/kb/search"))).toBe(true);
    // The model was offered the enabled skills (READ and WRITE), not the ones still off.
    const firstTurn = model.requests.find((r) => r.method === "POST")!;
    const offered = (firstTurn.body as { tools?: { function: { name: string } }[] }).tools?.map((t) => t.function.name);
    expect(offered).toEqual(expect.arrayContaining(["kb_search", "ticket_lookup", "ticket_create", "help"]));
    expect(offered).not.toContain("http_fetch");

    const ticket = await fake.deliver({
      conversationId: CONVERSATION,
      text: "create a ticket in OPS: printer is broken",
      senderId: "staff-7",
    });
    expect(ticket.status).toBe(200);
    const [ticketReply] = await fake.waitForReplies(CONVERSATION, 1, 20_000);
    expect(ticketReply!.text.toLowerCase()).toContain("waits for approval");
    expect(await query(testDb.url, `SELECT "skillKey", status, "conversationId" FROM "ApprovalRequest"`)).toEqual([
      { skillKey: "ticket.create", status: "PENDING", conversationId: CONVERSATION },
    ]);
    expect(api.requests.some((r) => r.method === "POST" && r.path === "/tickets")).toBe(false);

    // The approver decides from the card in their chat.
    const [{ id }] = (await query(testDb.url, `SELECT id FROM "ApprovalRequest"`)) as [{ id: string }];
    const card = await fake.waitForCard(id, () => true, 20_000);
    expect(card.spaces).toEqual(["dtv1.card//IM_GROUP.cid-prod-approvers"]);
    const click = await fake.clickCard({ outTrackId: id, userId: "staff-appr", action: "approve" });
    expect(click).toMatchObject({ status: 200 });
    const [done] = await fake.waitForReplies(CONVERSATION, 1, 20_000);
    expect(done!.text).toMatch(
      /^Your request ticket.create was approved by approver@corp.example and done: Created ticket OPS-/,
    );
    expect(api.requests.filter((r) => r.method === "POST" && r.path === "/tickets")).toHaveLength(1);
    await fake.waitForCard(id, (c) => c.params.status === "EXECUTED", 20_000);

    // Nothing from the demo seed: no demo users, conversation, model or seed audit entry.
    expect(await query(testDb.url, `SELECT email, role FROM "User" ORDER BY email`)).toEqual([
      { email: "approver@corp.example", role: "APPROVER" },
      { email: "ops-lead@corp.example", role: "ADMIN" },
    ]);
    expect(await query(testDb.url, `SELECT "conversationId" FROM "Conversation"`)).toEqual([
      { conversationId: CONVERSATION },
    ]);
    expect(await query(testDb.url, `SELECT name FROM "ModelEndpoint"`)).toEqual([{ name: "prod_chat" }]);
    expect(await query(testDb.url, `SELECT id FROM "AuditLog" WHERE action = 'seed.demo'`)).toEqual([]);
  });
});
