import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../devstack/src/testdb.ts";
import { verifyAuditChain } from "../audit.ts";
import { seedDemo } from "../seed/demo.ts";
import { applyOnboard, ensureDefaultModel, OnboardError, parseOnboardConfig } from "./onboard.ts";

const FILE = `
models:
  local_chat:
    kind: openai_compatible
    base_url: http://127.0.0.1:3300/v1
    api_key: \${LOCAL_MODEL_API_KEY}
    model: clawgate-demo
    timeout_ms: 20000
  big:
    base_url: https://llm.internal/v1
    api_key: \${BIG_MODEL_KEY}
    model: qwen2.5-72b
routing:
  defaults:
    model: big
limits:
  max_concurrency_per_model:
    big: 2
conversations:
  - { id: cid-ops, title: Ops, environment: prod, enabled: true }
  - { id: cid-demo-group, environment: test, enabled: false }
skills:
  - key: ticket.create
    enabled: false
    rules:
      - { scope: conversation, subject: cid-ops, effect: allow }
      - { scope: user, subject: staff-9, effect: deny }
`;

let tdb: TestDatabase;
let db: Db;
beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_onboard" });
  db = createDb(tdb.url, { max: 4 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

async function counts() {
  const [models, routes, conversations, skills, rules, revisions, audit] = await Promise.all([
    db.modelEndpoint.count(),
    db.route.count(),
    db.conversation.count(),
    db.skill.count(),
    db.skillRule.count(),
    db.configRevision.count(),
    db.auditLog.count(),
  ]);
  return { models, routes, conversations, skills, rules, revisions, audit };
}

describe("applyOnboard on a seeded database", () => {
  beforeEach(async () => {
    if ((await db.skill.count()) === 0) await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:3300/v1" });
  });

  it("--dry-run plans every change and writes nothing", async () => {
    const before = await counts();
    const { changes, configRevision } = await applyOnboard(db, parseOnboardConfig(FILE), { dryRun: true });
    expect(configRevision).toBeNull();
    expect(changes.map((c) => `${c.action} ${c.target} ${c.id}`)).toEqual([
      "update model local_chat",
      "create model big",
      "update route default",
      "create conversation cid-ops",
      "update conversation cid-demo-group",
      "update skill ticket.create",
      "create skill_rule ticket.create CONVERSATION cid-ops",
      "create skill_rule ticket.create USER staff-9",
    ]);
    expect(await counts()).toEqual(before);
  });

  it("applies the file in one revision with one audit entry that holds no secret", async () => {
    const before = await counts();
    const { changes, configRevision } = await applyOnboard(db, parseOnboardConfig(FILE));
    expect(changes).toHaveLength(8);
    expect(configRevision).toBe(before.revisions + 1);
    expect(await counts()).toMatchObject({
      revisions: before.revisions + 1,
      audit: before.audit + 1,
      models: 2,
      rules: 2,
    });

    const big = await db.modelEndpoint.findUniqueOrThrow({ where: { name: "big" } });
    expect(big).toMatchObject({
      baseUrl: "https://llm.internal/v1",
      model: "qwen2.5-72b",
      apiKeyEnv: "BIG_MODEL_KEY",
      maxConcurrency: 2,
      timeoutMs: 30_000,
    });
    expect(await db.modelEndpoint.findUniqueOrThrow({ where: { name: "local_chat" } })).toMatchObject({
      timeoutMs: 20_000,
      maxConcurrency: 8,
    });
    const route = await db.route.findFirstOrThrow({ where: { isDefault: true }, include: { modelEndpoint: true } });
    expect(route.modelEndpoint.name).toBe("big");
    expect(await db.conversation.findUniqueOrThrow({ where: { conversationId: "cid-ops" } })).toMatchObject({
      title: "Ops",
      environment: "PROD",
      status: "ENABLED",
      type: "GROUP",
    });
    expect(await db.conversation.findUniqueOrThrow({ where: { conversationId: "cid-demo-group" } })).toMatchObject({
      status: "DISABLED",
      title: "Clawgate demo group",
    });
    expect(await db.skill.findUniqueOrThrow({ where: { key: "ticket.create" } })).toMatchObject({ enabled: false });

    const revision = await db.configRevision.findUniqueOrThrow({ where: { id: configRevision! } });
    expect(revision).toMatchObject({ actorType: "CLI", actorName: "clawgate onboard" });
    const audit = await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(audit).toMatchObject({
      action: "config.onboard",
      actorType: "CLI",
      actorName: "clawgate onboard",
      configRevision,
    });
    const diff = JSON.stringify(audit.diff);
    expect(diff).toContain("BIG_MODEL_KEY");
    expect(diff).toContain('"to":"qwen2.5-72b"');
    expect(await verifyAuditChain(db)).toBeNull();
  });

  it("a second apply of the same file changes nothing and records no revision", async () => {
    const before = await counts();
    const again = await applyOnboard(db, parseOnboardConfig(FILE));
    expect(again).toEqual({ changes: [], configRevision: null });
    expect(await counts()).toEqual(before);
  });

  it("replaces a skill's rule set and edits only what the file names", async () => {
    const next = FILE.replace(
      "{ scope: user, subject: staff-9, effect: deny }",
      "{ scope: conversation, subject: cid-x, effect: deny }",
    ).replace(
      "{ scope: conversation, subject: cid-ops, effect: allow }",
      "{ scope: conversation, subject: cid-ops, effect: deny }",
    );
    const { changes } = await applyOnboard(db, parseOnboardConfig(next));
    expect(changes.map((c) => `${c.action} ${c.target} ${c.id}`)).toEqual([
      "update skill_rule ticket.create CONVERSATION cid-ops",
      "create skill_rule ticket.create CONVERSATION cid-x",
      "delete skill_rule ticket.create USER staff-9",
    ]);
    const rules = await db.skillRule.findMany({ where: { skillKey: "ticket.create" }, orderBy: { subject: "asc" } });
    expect(rules.map((r) => [r.scope, r.subject, r.effect])).toEqual([
      ["CONVERSATION", "cid-ops", "DENY"],
      ["CONVERSATION", "cid-x", "DENY"],
    ]);
  });

  it("a reference to an unknown model writes nothing, with one message per problem", async () => {
    const before = await counts();
    const bad = FILE.replace("model: big", "model: nowhere")
      .replace("    big: 2", "    ghost: 2")
      .replace("title: Ops", "title: Changed");
    const error = await applyOnboard(db, parseOnboardConfig(bad)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OnboardError);
    expect((error as OnboardError).problems).toEqual([
      'routing.defaults.model: no model named "nowhere" (define it under models)',
      'limits.max_concurrency_per_model.ghost: no model named "ghost" (define it under models)',
    ]);
    expect(await counts()).toEqual(before);
    expect((await db.conversation.findUniqueOrThrow({ where: { conversationId: "cid-ops" } })).title).toBe("Ops");
  });

  it("a limit may name a model that only exists in the database", async () => {
    const { changes } = await applyOnboard(
      db,
      parseOnboardConfig("limits:\n  max_concurrency_per_model:\n    local_chat: 3\n"),
    );
    expect(changes).toEqual([
      { target: "model", id: "local_chat", action: "update", diff: { maxConcurrency: { from: 8, to: 3 } } },
    ]);
  });
});

describe("ensureDefaultModel", () => {
  let empty: TestDatabase;
  let edb: Db;
  beforeAll(async () => {
    empty = await createTestDatabase({ prefix: "clawgate_onboard_env" });
    edb = createDb(empty.url, { max: 2 });
  });
  afterAll(async () => {
    await edb?.$disconnect();
    await empty?.drop();
  });

  it("does nothing without LOCAL_MODEL_BASE_URL", async () => {
    expect(await ensureDefaultModel(edb, {})).toBeNull();
    expect(await edb.modelEndpoint.count()).toBe(0);
  });

  it("defines local_chat and the default route once, keeping the key as its env var name", async () => {
    const env = { LOCAL_MODEL_BASE_URL: "http://127.0.0.1:3300/v1", LOCAL_MODEL_API_KEY: "sk-secret-value" };
    const revision = await ensureDefaultModel(edb, env);
    expect(revision).toBe(1);
    const route = await edb.route.findFirstOrThrow({ where: { isDefault: true }, include: { modelEndpoint: true } });
    expect(route.modelEndpoint).toMatchObject({
      name: "local_chat",
      baseUrl: env.LOCAL_MODEL_BASE_URL,
      apiKeyEnv: "LOCAL_MODEL_API_KEY",
    });
    const audit = await edb.auditLog.findMany();
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit[0]!.diff)).not.toContain("sk-secret-value");
    expect(await ensureDefaultModel(edb, env)).toBeNull();
    expect(await edb.configRevision.count()).toBe(1);
  });
});
