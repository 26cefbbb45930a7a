import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { describeChanges, parseOnboardConfig } from "./onboard.ts";
import { DomainError } from "../errors.ts";

const VALID = `
models:
  local_chat:
    kind: openai_compatible
    base_url: http://127.0.0.1:3300/v1
    api_key: \${LOCAL_MODEL_API_KEY}
    model: clawgate-demo
    timeout_ms: 20000
routing:
  defaults:
    model: local_chat
limits:
  max_concurrency_per_model:
    local_chat: 4
conversations:
  - { id: cid-ops, title: Ops, environment: prod, enabled: true }
skills:
  - key: kb.search
    enabled: true
    rules:
      - { scope: global, effect: allow }
      - { scope: user, subject: staff-9, effect: deny }
`;

/** The problems a file is rejected with. */
function problems(text: string): string[] {
  try {
    parseOnboardConfig(text);
  } catch (error) {
    if (error instanceof DomainError) return [...error.problems];
    throw error;
  }
  throw new Error("expected the file to be rejected");
}

describe("parseOnboardConfig", () => {
  it("reads a valid file, keeping the API key as its env var name", () => {
    const c = parseOnboardConfig(VALID);
    expect(c.models.local_chat).toEqual({
      kind: "openai_compatible",
      base_url: "http://127.0.0.1:3300/v1",
      api_key: "LOCAL_MODEL_API_KEY",
      model: "clawgate-demo",
      timeout_ms: 20000,
    });
    expect(c.routing?.defaults?.model).toBe("local_chat");
    expect(c.limits?.max_concurrency_per_model).toEqual({ local_chat: 4 });
    expect(c.conversations).toEqual([
      { id: "cid-ops", title: "Ops", environment: "prod", enabled: true, type: "group" },
    ]);
    expect(c.skills[0]!.rules).toEqual([
      { scope: "global", effect: "allow" },
      { scope: "user", subject: "staff-9", effect: "deny" },
    ]);
  });

  it("accepts the example shipped with the bot", () => {
    const file = path.join(import.meta.dirname, "../../../../apps/bot/examples/clawgate.yaml");
    const c = parseOnboardConfig(readFileSync(file, "utf8"));
    expect(c.models.local_chat?.base_url).toBe("http://127.0.0.1:3300/v1");
    expect(c.models.local_chat?.api_key).toBe("LOCAL_MODEL_API_KEY");
  });

  it("rejects a literal API key without echoing it", () => {
    const found = problems(VALID.replace("${LOCAL_MODEL_API_KEY}", "sk-live-abcdef123456"));
    expect(found).toEqual([
      "models.local_chat.api_key: a literal API key is not allowed in the config file: put the key in an env var and write api_key: ${ENV_VAR_NAME}",
    ]);
    expect(found.join("\n")).not.toContain("sk-live");
    expect(problems(VALID.replace("${LOCAL_MODEL_API_KEY}", "$LOCAL_MODEL_API_KEY"))[0]).toMatch(
      /^models\.local_chat\.api_key: a literal/,
    );
    expect(problems(VALID.replace("${LOCAL_MODEL_API_KEY}", "${lower}"))[0]).toMatch(
      /^models\.local_chat\.api_key: a literal/,
    );
  });

  it.each([
    ["base_url: http://127.0.0.1:3300/v1", "base_url: ftp://x", "models.local_chat.base_url: must be an http(s) URL"],
    ["base_url: http://127.0.0.1:3300/v1", "base_url: not a url", "models.local_chat.base_url: must be an http(s) URL"],
    ["kind: openai_compatible", "kind: anthropic", 'models.local_chat.kind: must be one of "openai_compatible"'],
    ["    model: clawgate-demo\n", "", "models.local_chat.model: is required"],
    ["timeout_ms: 20000", "timeout_ms: 5", "models.local_chat.timeout_ms: Too small: expected number to be >=100"],
    [
      "timeout_ms: 20000",
      "timeout_ms: fast",
      "models.local_chat.timeout_ms: Invalid input: expected number, received string",
    ],
    ["timeout_ms: 20000", "timeout: 20000", "models.local_chat: unknown key timeout"],
    [
      "local_chat: 4",
      "local_chat: 0",
      "limits.max_concurrency_per_model.local_chat: Too small: expected number to be >=1",
    ],
    ["environment: prod", "environment: staging", 'conversations[0].environment: must be one of "test", "prod"'],
    [
      "enabled: true }",
      "enabled: yes please }",
      "conversations[0].enabled: Invalid input: expected boolean, received string",
    ],
    ["id: cid-ops, ", "", "conversations[0].id: is required"],
    [
      "key: kb.search",
      "key: kb.nuke",
      "skills[0].key: must be a known skill (help, status, kb.search, ticket.lookup, ticket.create, group.announce, http.fetch)",
    ],
    [
      "{ scope: global, effect: allow }",
      "{ scope: global, subject: x, effect: allow }",
      "skills[0].rules[0].subject: a global rule has no subject",
    ],
    [
      "{ scope: user, subject: staff-9, effect: deny }",
      "{ scope: user, effect: deny }",
      "skills[0].rules[1].subject: a user rule needs a subject",
    ],
    [
      "{ scope: global, effect: allow }",
      "{ scope: global, effect: maybe }",
      'skills[0].rules[0].effect: must be one of "allow", "deny"',
    ],
    [
      "{ scope: global, effect: allow }",
      "{ scope: world, effect: allow }",
      'skills[0].rules[0].scope: must be one of "global", "conversation", "user"',
    ],
    ["routing:", "routeing:", "(file): unknown key routeing"],
  ])("rejects %s -> %s with a message naming the path", (from, to, message) => {
    expect(problems(VALID.replace(from, to))).toContain(message);
  });

  it("reports every problem at once", () => {
    const found = problems(
      VALID.replace("http://127.0.0.1:3300/v1", "nope")
        .replace("environment: prod", "environment: x")
        .replace("kb.search", "nope"),
    );
    expect(found).toHaveLength(3);
  });

  it("rejects duplicate conversations, skills and rules", () => {
    const dupConv = VALID.replace(
      "conversations:\n",
      "conversations:\n  - { id: cid-ops, environment: test, enabled: false }\n",
    );
    expect(problems(dupConv)).toEqual(['conversations[1].id: duplicate id "cid-ops"']);
    const dupSkill = `${VALID}  - key: kb.search\n`;
    expect(problems(dupSkill)).toEqual(['skills[1].key: duplicate key "kb.search"']);
    const dupRule = VALID.replace(
      "- { scope: global, effect: allow }",
      "- { scope: global, effect: allow }\n      - { scope: global, effect: deny }",
    );
    expect(problems(dupRule)).toEqual(["skills[0].rules[1]: duplicate rule for global"]);
  });

  it("rejects broken YAML, an empty file and a file that is not a mapping", () => {
    expect(problems("models:\n  a: [1, 2\n")[0]).toMatch(/^YAML line \d+: /);
    expect(problems("models: {}\nmodels: {}\n")[0]).toMatch(/^YAML line 2: .*unique/i);
    expect(problems("")).toEqual(["(file): is empty"]);
    expect(problems("- a\n- b\n")).toEqual(["(file): Invalid input: expected object, received array"]);
  });
});

const SECTIONS = `${VALID}    requires_approval: false
    environments: [prod]
    settings: { baseUrl: "http://kb.internal/api", tokenEnv: KB_TOKEN }
  - key: group.announce
    settings: { allowedConversations: [cid-ops] }
flags:
  agent.tools: on
  replies.markdown: { enabled: false, description: Markdown replies }
  beta.cards: true
budgets:
  default: { max_context_tokens: 8192, daily_tokens: 200000, requests_per_minute: 20 }
  global: { monthly_tokens: 50000000 }
  conversations:
    cid-ops: { daily_tokens: 100000 }
  users:
    staff-9: { requests_per_minute: 5, monthly_tokens: null }
users:
  - { email: Admin@Example.com, role: admin }
  - { email: ops@example.com, role: operator, dingtalk: { user_id: staff-ops } }
approvals:
  card_template_id: tpl.approval
  approver_chats: [cid-ops]
  escalation_chat: cid-escalate
  escalate_after_minutes: 15
  expires_after_minutes: 48
  quorum: { write: 1, destructive: 2 }
  skills: { ticket.create: { quorum: 2 } }
ops_chats:
  - { id: cid-ops, purposes: [alerts, incidents] }
`;

describe("the flags, budgets, skill settings, users and reserved sections", () => {
  it("reads them", () => {
    const c = parseOnboardConfig(SECTIONS);
    expect(c.flags).toEqual({
      "agent.tools": true,
      "replies.markdown": { enabled: false, description: "Markdown replies" },
      "beta.cards": true,
    });
    expect(c.budgets).toEqual({
      default: { max_context_tokens: 8192, daily_tokens: 200000, requests_per_minute: 20 },
      global: { monthly_tokens: 50000000 },
      conversations: { "cid-ops": { daily_tokens: 100000 } },
      users: { "staff-9": { requests_per_minute: 5, monthly_tokens: null } },
    });
    expect(c.skills[0]).toMatchObject({
      requires_approval: false,
      environments: ["prod"],
      settings: { baseUrl: "http://kb.internal/api", tokenEnv: "KB_TOKEN" },
    });
    expect(c.skills[1]!.settings).toEqual({ allowedConversations: ["cid-ops"] });
    expect(c.users).toEqual([
      { email: "admin@example.com", role: "admin" },
      { email: "ops@example.com", role: "operator", dingtalk: { user_id: "staff-ops" } },
    ]);
    expect(c.approvals).toEqual({
      card_template_id: "tpl.approval",
      approver_chats: ["cid-ops"],
      escalation_chat: "cid-escalate",
      escalate_after_minutes: 15,
      expires_after_minutes: 48,
      quorum: { write: 1, destructive: 2 },
      skills: { "ticket.create": { quorum: 2 } },
    });
    expect(c.ops_chats).toEqual([{ id: "cid-ops", purposes: ["alerts", "incidents"] }]);
  });

  it("ops_chats: a bare conversation id (every purpose) or one with its purposes", () => {
    const c = parseOnboardConfig("ops_chats:\n  - cid-oncall\n  - { id: cid-ops, purposes: [alerts] }\n");
    expect(c.ops_chats).toEqual([
      { id: "cid-oncall", purposes: ["alerts", "approvals", "incidents"] },
      { id: "cid-ops", purposes: ["alerts"] },
    ]);
  });

  it.each([
    [
      "agent.tools: on",
      "agent.tools: maybe",
      "flags.agent.tools: must be on, off, true, false or { enabled, description }",
    ],
    ["beta.cards: true", "Beta Cards: true", "flags.Beta Cards:"],
    ["daily_tokens: 100000", "daily_tokens: -1", "budgets.conversations.cid-ops.daily_tokens: must be positive"],
    ["daily_tokens: 100000", "daily_tokens: 1.5", "budgets.conversations.cid-ops.daily_tokens: must be a whole number"],
    ["requests_per_minute: 20 }", "rpm: 20 }", "budgets.default: unknown key rpm"],
    ["staff-9: {", '"staff 9": {', "budgets.users.staff 9: must not contain spaces"],
    ["email: ops@example.com", "email: ops", "users[1].email: must be an email address"],
    ["role: operator", "role: root", 'users[1].role: must be one of "admin", "approver", "operator", "viewer"'],
    ["requires_approval: false", "requires_approval: true", 'skills[0].requires_approval: "kb.search" is a READ skill'],
    ["environments: [prod]", "environments: []", "skills[0].environments: list at least one environment"],
    ["tokenEnv: KB_TOKEN", "tokenEnv: KB_TOKEN, color: red", "skills[0].settings: kb.search settings:"],
    [
      "allowedConversations: [cid-ops]",
      "allowedConversations: cid-ops",
      "skills[1].settings: group.announce settings.allowedConversations:",
    ],
    ["expires_after_minutes: 48", "expires_after_minutes: 0", "approvals.expires_after_minutes:"],
    ["destructive: 2 }", "destructive: 0 }", "approvals.quorum.destructive:"],
    ["approver_chats: [cid-ops]", "approver_chat: [cid-ops]", "approvals: unknown key approver_chat"],
    ["dingtalk: { user_id: staff-ops }", "dingtalk: {}", "users[1].dingtalk: give user_id or union_id"],
    ["purposes: [alerts, incidents]", "purposes: [parties]", "ops_chats[0].purposes[0]:"],
  ])("rejects %s -> %s with a message naming the path", (from, to, message) => {
    const found = problems(SECTIONS.replace(from, to));
    expect(
      found.some((p) => p.startsWith(message)),
      found.join("\n"),
    ).toBe(true);
  });

  it("rejects a duplicate user email (emails compare lower-case)", () => {
    expect(problems(SECTIONS.replace("ops@example.com", "ADMIN@example.com"))).toEqual([
      'users[1].email: duplicate email "admin@example.com"',
    ]);
  });
});

describe("describeChanges", () => {
  it("prints one line per change", () => {
    expect(
      describeChanges([
        { target: "model", id: "local_chat", action: "create", diff: { baseUrl: { from: null, to: "http://x/v1" } } },
        { target: "skill_rule", id: "kb.search GLOBAL", action: "delete" },
      ]),
    ).toEqual(['create model local_chat (baseUrl: null -> "http://x/v1")', "delete skill_rule kb.search GLOBAL"]);
  });
});

describe("the conversation_log section", () => {
  it("reads the roles that see message texts, in any case", () => {
    const c = parseOnboardConfig(`${VALID}conversation_log:\n  text_roles: [admin, Viewer]\n`);
    expect(c.conversation_log).toEqual({ text_roles: ["ADMIN", "VIEWER"] });
  });

  it("refuses an unknown role", () => {
    expect(problems(`${VALID}conversation_log:\n  text_roles: [owner]\n`).join("\n")).toMatch(
      /text_roles\[0\]: must be one of "ADMIN"/,
    );
  });
});
