import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { verifyAuditChain } from "../audit.ts";
import { seedDemo } from "../seed/demo.ts";
import { createBudget } from "../console/budgets.ts";
import { createFlag, setFlag } from "../console/flags.ts";
import { createEndpoint, setRoute } from "../console/models.ts";
import { addSkillRule, updateSkill } from "../console/skills.ts";
import { setUserRole } from "../console/users.ts";
import { DEFAULT_SECRET_REF_POLICY, secretRefPolicy } from "../secret-refs.ts";
import { parse as parseYaml } from "yaml";
import { applyOnboard, describeChanges, ensureDefaultModel, exportConfigYaml, parseOnboardConfig } from "./onboard.ts";
import { DomainError } from "../errors.ts";

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
    api_key: \${BIG_MODEL_API_KEY}
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
      apiKeyEnv: "BIG_MODEL_API_KEY",
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
    expect(diff).toContain("BIG_MODEL_API_KEY");
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
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).problems).toEqual([
      'routing.defaults.model: no model named "nowhere" (define it under models)',
      'limits.max_concurrency_per_model.ghost: no model named "ghost" (define it under models)',
    ]);
    expect(await counts()).toEqual(before);
    expect((await db.conversation.findUniqueOrThrow({ where: { conversationId: "cid-ops" } })).title).toBe("Ops");
  });

  it("routes a conversation of its own; a route to an unknown conversation or model writes nothing", async () => {
    const file = "routing:\n  conversations:\n    cid-ops: { model: local_chat, max_tool_rounds: 2 }\n";
    const { changes } = await applyOnboard(db, parseOnboardConfig(file));
    expect(describeChanges(changes)).toEqual([
      'create route cid-ops (model: null -> "local_chat", maxToolRounds: null -> 2)',
    ]);
    const conv = await db.conversation.findUniqueOrThrow({ where: { conversationId: "cid-ops" } });
    expect(await db.route.findUniqueOrThrow({ where: { conversationId: conv.id } })).toMatchObject({
      maxToolRounds: 2,
      isDefault: false,
    });
    const before = await counts();
    const bad = "routing:\n  conversations:\n    cid-nowhere: { model: ghost }\n";
    const error = await applyOnboard(db, parseOnboardConfig(bad)).catch((e: unknown) => e);
    expect((error as DomainError).problems).toEqual([
      'routing.conversations.cid-nowhere.model: no model named "ghost" (define it under models)',
      'routing.conversations.cid-nowhere: no conversation "cid-nowhere" (list it under conversations)',
    ]);
    expect(await counts()).toEqual(before);
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

const SECTIONS = `
skills:
  - key: kb.search
    environments: [prod]
    settings: { baseUrl: "http://kb.internal/api", tokenEnv: KB_TOKEN }
  - key: ticket.create
    requires_approval: true
flags:
  agent.tools: off
  replies.markdown: { enabled: true, description: Markdown replies }
budgets:
  default: { max_context_tokens: 8192, daily_tokens: 200000, requests_per_minute: 20 }
  conversations:
    cid-ops: { daily_tokens: 100000 }
  users:
    staff-9: { requests_per_minute: 5 }
users:
  - { email: Root@Example.com, role: admin }
  - { email: admin@clawgate.local, role: approver }
approvals: { expires_after_minutes: 48 }
ops_chats:
  - { id: cid-ops, purposes: [alerts] }
`;

describe("flags, budgets, skill settings, users and reserved sections", () => {
  beforeEach(async () => {
    if ((await db.skill.count()) === 0) await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:3300/v1" });
  });

  it("plans, then applies them in one revision; a second apply changes nothing", async () => {
    const config = parseOnboardConfig(SECTIONS);
    const before = await counts();
    const plan = await applyOnboard(db, config, { dryRun: true });
    expect(describeChanges(plan.changes)).toEqual([
      expect.stringMatching(
        /^update skill kb\.search \(environments: \["TEST","PROD"\] -> \["PROD"\], settings: .* -> \{"baseUrl":"http:\/\/kb\.internal\/api","tokenEnv":"KB_TOKEN"\}\)$/,
      ),
      "update flag agent.tools (enabled: true -> false)",
      'update flag replies.markdown (description: "Reply with markdown messages instead of plain text." -> "Markdown replies")',
      "update budget DEFAULT (maxContextTokens: 8000 -> 8192, monthlyTokens: 4000000 -> null)",
      "create budget CONVERSATION cid-ops (dailyTokens: null -> 100000)",
      "create budget USER staff-9 (requestsPerMinute: null -> 5)",
      'create user root@example.com (role: null -> "ADMIN")',
      'update user admin@clawgate.local (role: "ADMIN" -> "APPROVER"): their sessions end: they sign in again',
      'create section approvals (value: null -> {"expires_after_minutes":48}): approval cards, approver chats, escalation, quorum and expiry (read at the next request)',
      'create section ops_chats (value: null -> [{"id":"cid-ops","purposes":["alerts"]}]): chats told when safe mode or the kill switch starts, changes or ends (read at the next notice)',
    ]);
    expect(await counts()).toEqual(before);

    const applied = await applyOnboard(db, config);
    expect(applied.changes).toHaveLength(10);
    expect(await counts()).toMatchObject({ revisions: before.revisions + 1, audit: before.audit + 1 });
    expect(await db.skill.findUniqueOrThrow({ where: { key: "kb.search" } })).toMatchObject({
      environments: ["PROD"],
      settings: { baseUrl: "http://kb.internal/api", tokenEnv: "KB_TOKEN" },
    });
    expect(await db.featureFlag.findUniqueOrThrow({ where: { key: "agent.tools" } })).toMatchObject({ enabled: false });
    expect(
      await db.tokenBudget.findUniqueOrThrow({ where: { scope_subject: { scope: "DEFAULT", subject: "" } } }),
    ).toMatchObject({
      maxContextTokens: 8192,
      dailyTokens: 200000,
      monthlyTokens: null,
      requestsPerMinute: 20,
    });
    expect(await db.user.findUniqueOrThrow({ where: { email: "root@example.com" } })).toMatchObject({ role: "ADMIN" });
    expect(await db.user.findUniqueOrThrow({ where: { email: "admin@clawgate.local" } })).toMatchObject({
      role: "APPROVER",
    });
    expect((await db.configSection.findUniqueOrThrow({ where: { key: "ops_chats" } })).value).toEqual([
      { id: "cid-ops", purposes: ["alerts"] },
    ]);
    expect(await applyOnboard(db, config)).toEqual({ changes: [], configRevision: null });
  });

  it("refuses secret references and hosts the operator does not allow: one line each, nothing written", async () => {
    const before = await counts();
    const bad = parseOnboardConfig(`
models:
  exfil:
    base_url: http://127.0.0.1:9/v1
    api_key: \${DATABASE_URL}
    model: m
  other:
    base_url: http://10.0.0.1/v1
    api_key: \${OTHER_SECRET}
    model: m
skills:
  - key: kb.search
    settings: { baseUrl: "http://127.0.0.1:9", tokenEnv: DINGTALK_APP_SECRET }
`);
    const policy = secretRefPolicy({ MODEL_BASE_URL_ALLOWLIST: "llm.internal" });
    const error = await applyOnboard(db, bad, { dryRun: true, secretRefs: policy }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).problems).toEqual([
      expect.stringMatching(/^models\.exfil\.api_key: DATABASE_URL is one of Clawgate's own settings/),
      expect.stringMatching(/^models\.exfil\.base_url: host 127\.0\.0\.1:9 is not in MODEL_BASE_URL_ALLOWLIST/),
      expect.stringMatching(/^models\.other\.api_key: OTHER_SECRET does not match SECRET_ENV_ALLOWLIST \(\*_API_KEY\)/),
      expect.stringMatching(/^models\.other\.base_url: host 10\.0\.0\.1 is not in/),
      expect.stringMatching(
        /^skills\[0\]\.settings: kb\.search settings\.tokenEnv: DINGTALK_APP_SECRET is one of Clawgate's own settings/,
      ),
    ]);
    await expect(applyOnboard(db, bad)).rejects.toBeInstanceOf(DomainError);
    expect(await counts()).toEqual(before);
  });

  it("never leaves the console without an active admin, and a new flag needs a description", async () => {
    const before = await counts();
    const admins = await db.user.findMany({ where: { role: "ADMIN", disabledAt: null }, select: { email: true } });
    const file = [
      "flags:",
      "  brand.new: on",
      "users:",
      ...admins.map((a) => `  - { email: ${a.email}, role: viewer }`),
    ].join("\n");
    const error = await applyOnboard(db, parseOnboardConfig(file)).catch((e: unknown) => e);
    expect((error as DomainError).problems).toEqual([
      'flags.brand.new: a new flag needs a description: brand.new: { enabled: ..., description: "..." }',
      "users: this would leave no active ADMIN: keep one (role: admin) or add another admin first",
    ]);
    expect(await counts()).toEqual(before);
  });
});

describe("users' DingTalk identity", () => {
  beforeEach(async () => {
    if ((await db.skill.count()) === 0) await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:3300/v1" });
  });

  it("sets it (planned, audited), exports it, and refuses an identity another user holds", async () => {
    const file = `
users:
  - { email: approver@clawgate.local, role: approver, dingtalk: { user_id: staff-ari, union_id: union-ari } }
`;
    const plan = await applyOnboard(db, parseOnboardConfig(file), { dryRun: true });
    expect(describeChanges(plan.changes)).toEqual([
      'update user approver@clawgate.local (dingtalkUserId: null -> "staff-ari", dingtalkUnionId: null -> "union-ari")',
    ]);
    await applyOnboard(db, parseOnboardConfig(file));
    expect(await db.user.findFirstOrThrow({ where: { email: "approver@clawgate.local" } })).toMatchObject({
      role: "APPROVER",
      dingtalkUserId: "staff-ari",
      dingtalkUnionId: "union-ari",
    });
    expect((await applyOnboard(db, parseOnboardConfig(file))).changes).toEqual([]);
    const exported = parseYaml(await exportConfigYaml(db)) as { users: { email: string; dingtalk?: object }[] };
    expect(exported.users.find((u) => u.email === "approver@clawgate.local")?.dingtalk).toEqual({
      user_id: "staff-ari",
      union_id: "union-ari",
    });

    const taken = `
users:
  - { email: viewer@clawgate.local, role: viewer, dingtalk: { user_id: staff-ari } }
`;
    const before = await db.user.findFirstOrThrow({ where: { email: "viewer@clawgate.local" } });
    const refused = await applyOnboard(db, parseOnboardConfig(taken)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DomainError);
    expect((refused as DomainError).problems).toEqual([expect.stringMatching(/already approver@clawgate.local's/)]);
    expect((await db.user.findFirstOrThrow({ where: { email: "viewer@clawgate.local" } })).dingtalkUserId).toBe(
      before.dingtalkUserId,
    );
  });
});

describe("safe_mode: activations from the file, through the same core function", () => {
  let fresh: TestDatabase;
  let fdb: Db;
  beforeAll(async () => {
    // No demo seed: a real install.
    fresh = await createTestDatabase({ prefix: "clawgate_onboard_safe" });
    fdb = createDb(fresh.url, { max: 2 });
  });
  afterAll(async () => {
    await fdb?.$disconnect();
    await fresh?.drop();
  });

  const FILE_WITH_SAFE_MODE = `
conversations:
  - { id: cid-pay, title: Payments, environment: prod, enabled: true }
http_tools:
  http.refund:
    description: Refund an order
    risk_class: write
    method: POST
    url: https://pay.internal/refund
    input_schema: { type: object, properties: { order: { type: string } }, required: [order] }
ops_chats: [cid-pay]
safe_mode:
  - scopes: [conversation:cid-pay, skill:http.refund]
    level: read_only
    reason: Payments API migration
    ttl: 2h
    message: Refunds are paused during the migration.
  - scopes: [risk:DESTRUCTIVE]
    level: maintenance
    reason: No destructive tools this week
`;

  it("plans in a dry run, opens each activation once (incident, ops notice), and a re-apply changes nothing", async () => {
    const config = parseOnboardConfig(FILE_WITH_SAFE_MODE);
    const plan = await applyOnboard(fdb, config, { dryRun: true });
    expect(describeChanges(plan.changes).filter((l) => l.includes("safe_mode"))).toEqual([
      'create safe_mode conversation:cid-pay, skill:http.refund (level: null -> "READ_ONLY", message: null -> "Refunds are paused during the migration."): safe mode READ_ONLY on conversation:cid-pay, skill:http.refund for 120 min: Payments API migration',
      'create safe_mode risk:DESTRUCTIVE (level: null -> "MAINTENANCE"): safe mode MAINTENANCE on risk:DESTRUCTIVE: No destructive tools this week',
    ]);
    expect(await fdb.safeModeEvent.count()).toBe(0);

    const started = Date.now();
    const applied = await applyOnboard(fdb, config);
    expect(applied.configRevision).not.toBeNull();
    const events = await fdb.safeModeEvent.findMany({ orderBy: { level: "asc" } });
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      kind: "SAFE_MODE",
      level: "READ_ONLY",
      scopes: ["conversation:cid-pay", "skill:http.refund"],
      reason: "Payments API migration",
      message: "Refunds are paused during the migration.",
      actorType: "CLI",
      actorName: "clawgate onboard",
      endedAt: null,
    });
    const ttl = events[0]!.expiresAt!.getTime() - started;
    expect(ttl).toBeGreaterThan(2 * 3_600_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(2 * 3_600_000 + 60_000);
    expect(events[1]).toMatchObject({ level: "MAINTENANCE", scopes: ["risk:DESTRUCTIVE"], expiresAt: null });
    // As the console's switch: each opens or joins an incident and tells the ops chats.
    expect(await fdb.incidentTrigger.count({ where: { kind: "safe_mode" } })).toBe(2);
    expect(await fdb.opsNotice.count({ where: { title: "Safe mode on" } })).toBe(2);

    expect(await applyOnboard(fdb, config)).toEqual({ changes: [], configRevision: null });
    expect(await fdb.safeModeEvent.count()).toBe(2);
  });

  it("a changed level updates the activation in force on the same scopes; one left out of the file stays", async () => {
    const changed = parseOnboardConfig(`
safe_mode:
  - scopes: [skill:http.refund, conversation:cid-pay]
    level: maintenance
    reason: The migration runs late
`);
    const { changes } = await applyOnboard(fdb, changed);
    expect(describeChanges(changes)).toEqual([
      expect.stringMatching(/^update safe_mode \w+ \(level: "READ_ONLY" -> "MAINTENANCE"\): safe mode on /),
    ]);
    const live = await fdb.safeModeEvent.findMany({ where: { endedAt: null } });
    expect(live.map((e) => e.level).sort()).toEqual(["MAINTENANCE", "MAINTENANCE"]);
    expect(await fdb.opsNotice.count({ where: { title: "Safe mode changed" } })).toBe(1);
  });

  it("refuses an unknown scope, a bad level or TTL and a missing reason: every problem named, nothing written", async () => {
    const before = { events: await fdb.safeModeEvent.count(), revisions: await fdb.configRevision.count() };
    expect(() =>
      parseOnboardConfig(`
safe_mode:
  - scopes: [team:x]
    level: panic
    ttl: forever
  - scopes: [risk:WRITE]
    reason: ok
    ttl: 10s
`),
    ).toThrow(
      expect.objectContaining({
        problems: [
          "safe_mode[0].scopes[0]: a scope is conversation:ID, skill:KEY or risk:READ|WRITE|DESTRUCTIVE",
          'safe_mode[0].level: "panic" is not a level: use read_only or maintenance',
          "safe_mode[0].reason: is required: say why (it goes into the history and the incident)",
          expect.stringMatching(/^safe_mode\[0\]\.ttl: "forever" is not a duration/),
          "safe_mode[1].ttl: must be between 1m and 30d",
        ],
      }),
    );
    expect(() =>
      parseOnboardConfig(`
safe_mode:
  - { scopes: [risk:WRITE, skill:http.refund], reason: once }
  - { scopes: [skill:http.refund, risk:WRITE], reason: twice }
`),
    ).toThrow(
      expect.objectContaining({
        problems: [
          'safe_mode[1].scopes: duplicate scopes "risk:WRITE skill:http.refund" (one activation per set of scopes)',
        ],
      }),
    );
    const unknown = parseOnboardConfig(`
conversations:
  - { id: cid-new, environment: prod, enabled: true }
safe_mode:
  - scopes: [conversation:cid-nowhere]
    reason: typo
`);
    await expect(applyOnboard(fdb, unknown, { dryRun: true })).rejects.toThrow(
      expect.objectContaining({
        problems: ["safe_mode[0] (conversation:cid-nowhere): scope conversation:cid-nowhere: no such conversation"],
      }),
    );
    await expect(applyOnboard(fdb, unknown)).rejects.toThrow(DomainError);
    // The whole file is one transaction: the conversation it declares is not created either.
    expect(await fdb.conversation.count({ where: { conversationId: "cid-new" } })).toBe(0);
    expect({ events: await fdb.safeModeEvent.count(), revisions: await fdb.configRevision.count() }).toEqual(before);
  });
});

describe("export then onboard: the round trip plans no change", () => {
  let fresh: TestDatabase;
  let fdb: Db;
  beforeAll(async () => {
    fresh = await createTestDatabase({ prefix: "clawgate_export" });
    fdb = createDb(fresh.url, { max: 2 });
  });
  afterAll(async () => {
    await fdb?.$disconnect();
    await fresh?.drop();
  });

  it("on a database written by onboard and by the console's core functions", async () => {
    // No demo seed: what a real install has after onboard and some console work.
    await applyOnboard(fdb, parseOnboardConfig(FILE));
    const sections = SECTIONS.replace("admin@clawgate.local", "second@example.com").replace(
      "agent.tools: off",
      "agent.tools: { enabled: false, description: Offer the allowed skills to the model }",
    );
    await applyOnboard(fdb, parseOnboardConfig(sections));
    await fdb.$transaction(async (tx) => {
      const endpoint = await createEndpoint(
        tx,
        {
          name: "gpu",
          baseUrl: "http://vllm.internal:8000/v1",
          model: "qwen",
          apiKeyEnv: "GPU_API_KEY",
          maxConcurrency: 3,
        },
        DEFAULT_SECRET_REF_POLICY,
      );
      await setRoute(tx, { conversationId: null, modelEndpointId: endpoint.result.id });
      const ops = await tx.conversation.findUniqueOrThrow({ where: { conversationId: "cid-ops" } });
      await setRoute(tx, { conversationId: ops.id, modelEndpointId: endpoint.result.id, maxToolRounds: 2 });
      await createBudget(tx, {
        scope: "GLOBAL",
        maxContextTokens: null,
        dailyTokens: null,
        monthlyTokens: 9_000_000,
        requestsPerMinute: null,
      });
      await createBudget(tx, {
        scope: "USER",
        subject: "staff-1",
        maxContextTokens: null,
        dailyTokens: 1000,
        monthlyTokens: null,
        requestsPerMinute: null,
      });
      await createFlag(tx, { key: "beta.cards", description: "Approval cards", enabled: true });
      await setFlag(tx, { key: "agent.tools", enabled: true });
      await updateSkill(tx, { key: "ticket.create", environments: ["TEST"] });
      await addSkillRule(tx, { skillKey: "kb.search", scope: "USER", subject: "staff-2", effect: "DENY", note: "why" });
      const second = await tx.user.findUniqueOrThrow({ where: { email: "second@example.com" } });
      await setUserRole(tx, "someone", { userId: second.id, role: "OPERATOR" });
      await tx.conversation.create({ data: { conversationId: "cid-seen", type: "GROUP" } }); // PENDING
    });
    const yaml = await exportConfigYaml(fdb);
    const exported = parseYaml(yaml) as Record<string, unknown>;
    expect(Object.keys(exported)).toEqual([
      "version",
      "models",
      "routing",
      "limits",
      "conversations",
      "skills",
      "flags",
      "budgets",
      "users",
      "approvals",
      "ops_chats",
    ]);
    expect(yaml).toContain("api_key: ${GPU_API_KEY}");
    expect(yaml).not.toContain("cid-seen");
    expect(exported.routing).toEqual({
      defaults: { model: "gpu", max_tool_rounds: 4 },
      conversations: { "cid-ops": { model: "gpu", max_tool_rounds: 2 } },
    });
    const plan = await applyOnboard(fdb, parseOnboardConfig(yaml), { dryRun: true });
    expect(describeChanges(plan.changes)).toEqual([]);
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
