/**
 * The `clawgate onboard` file: YAML checked with zod. Every problem is reported at once, one
 * line each, naming its path, so a user fixes the file in one pass. Model keys are references
 * to env vars (`${NAME}`): a literal key in a file that lives in git is refused outright.
 */
import {
  BUILTIN_SKILLS,
  checkSkillSettings,
  HEADER_NAME,
  httpToolRequestSchema,
  MCP_SERVER_NAME,
  MCP_SERVER_NAME_HELP,
  RISK_CLASSES,
} from "@clawgate/skills";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { budgetCreateSchema, budgetLimit } from "../console/budgets.ts";
import { flagKeySchema } from "../console/flags.ts";
import { approvalSettingProblem } from "../console/skills.ts";
import { ROLES } from "../console/users.ts";
import { DomainError } from "../errors.ts";
import { retentionSectionSchema } from "../retention.ts";
import {
  MAX_SAFE_MODE_TTL_MS,
  MIN_SAFE_MODE_TTL_MS,
  parseDuration,
  SAFE_MODE_LEVELS,
  safeModeScopeSchema,
} from "../safe-mode.ts";

/** The file's problems, all of them, as one refusal (`reason: "invalid_config"`): nothing is written. */
export function invalidOnboardConfig(problems: readonly string[]): DomainError {
  return new DomainError("BAD_REQUEST", "the onboarding config was not applied (nothing written):", {
    reason: "invalid_config",
    problems,
  });
}

const ENV_REF = /^\$\{([A-Z_][A-Z0-9_]*)\}$/;
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const KNOWN_SKILLS: readonly string[] = BUILTIN_SKILLS.map((s) => s.key);

const httpUrl = z.url({ protocol: /^https?$/, hostname: /./, error: "must be an http(s) URL" });

const apiKeyRef = z
  .string({ error: "must be an env var reference like ${LOCAL_MODEL_API_KEY}" })
  .transform((v, ctx) => {
    const ref = ENV_REF.exec(v.trim());
    if (!ref) {
      // The value itself is never echoed: it may be a real key.
      ctx.addIssue({
        code: "custom",
        message:
          "a literal API key is not allowed in the config file: put the key in an env var and write api_key: ${ENV_VAR_NAME}",
      });
      return z.NEVER;
    }
    return ref[1]!;
  });

const model = z.strictObject({
  kind: z.literal("openai_compatible", { error: 'must be "openai_compatible"' }).default("openai_compatible"),
  base_url: httpUrl,
  api_key: apiKeyRef.optional(),
  model: z.string().min(1, { error: "must not be empty" }),
  timeout_ms: z.number().int().min(100).max(600_000).optional(),
  enabled: z.boolean().optional(),
});

const conversation = z.strictObject({
  id: z.string().min(1, { error: "must not be empty" }),
  title: z.string().max(200).optional(),
  environment: z.enum(["test", "prod"]),
  enabled: z.boolean(),
  type: z.enum(["group", "single"]).default("group"),
});

const rule = z
  .strictObject({
    scope: z.enum(["global", "conversation", "user"]),
    subject: z.string().min(1).optional(),
    effect: z.enum(["allow", "deny"]),
  })
  .superRefine((r, ctx) => {
    if (r.scope === "global" && r.subject !== undefined)
      ctx.addIssue({ code: "custom", path: ["subject"], message: "a global rule has no subject" });
    if (r.scope !== "global" && r.subject === undefined)
      ctx.addIssue({ code: "custom", path: ["subject"], message: `a ${r.scope} rule needs a subject` });
  });

const ENVIRONMENTS = ["test", "prod"] as const;

const skill = z
  .strictObject({
    key: z
      .string()
      .refine((k) => KNOWN_SKILLS.includes(k), { error: `must be a known skill (${KNOWN_SKILLS.join(", ")})` }),
    enabled: z.boolean().optional(),
    requires_approval: z.boolean().optional(),
    environments: z
      .array(z.enum(ENVIRONMENTS))
      .min(1, { error: "list at least one environment (disable the skill to stop it everywhere)" })
      .refine((a) => new Set(a).size === a.length, { error: "an environment is listed twice" })
      .optional(),
    /** The skill's whole settings object, checked against its manifest's schema. */
    settings: z.record(z.string(), z.unknown()).optional(),
    rules: z.array(rule).optional(),
  })
  .transform((s, ctx) => {
    const manifest = BUILTIN_SKILLS.find((m) => m.key === s.key);
    if (!manifest) return s;
    const seen = new Set<string>();
    s.rules?.forEach((r, i) => {
      const id = `${r.scope}:${r.subject ?? ""}`;
      if (seen.has(id))
        ctx.addIssue({
          code: "custom",
          path: ["rules", i],
          message: `duplicate rule for ${r.scope} ${r.subject ?? ""}`.trim(),
        });
      seen.add(id);
    });
    if (s.requires_approval !== undefined) {
      const problem = approvalSettingProblem(s.key, manifest.riskClass, s.requires_approval);
      if (problem) ctx.addIssue({ code: "custom", path: ["requires_approval"], message: problem });
    }
    if (s.settings === undefined) return s;
    const checked = checkSkillSettings(manifest, s.settings);
    if (!checked.ok) {
      // checkSkillSettings names the skill and the setting: "<key> settings.<path>: <problem>".
      for (const line of checked.errors) ctx.addIssue({ code: "custom", path: ["settings"], message: line });
      return s;
    }
    // Stored as parsed (defaults filled in), so an export of it plans no change.
    return { ...s, settings: checked.settings };
  });

const flagValue = z.union(
  [
    z.boolean(),
    z.enum(["on", "off"]).transform((v) => v === "on"),
    z.strictObject({
      enabled: z.union([z.boolean(), z.enum(["on", "off"]).transform((v) => v === "on")]),
      description: z.string().trim().min(1).max(300, { error: "at most 300 characters" }).optional(),
    }),
  ],
  { error: "must be on, off, true, false or { enabled, description }" },
);

const budgetLimits = z.strictObject({
  max_context_tokens: budgetLimit.optional(),
  daily_tokens: budgetLimit.optional(),
  monthly_tokens: budgetLimit.optional(),
  requests_per_minute: budgetLimit.optional(),
});
export type BudgetLimitsYaml = z.output<typeof budgetLimits>;

const budgets = z.strictObject({
  global: budgetLimits.optional(),
  default: budgetLimits.optional(),
  /** Keyed by the DingTalk conversationId. */
  conversations: z.record(z.string(), budgetLimits).optional(),
  /** Keyed by the DingTalk user id (staffId). */
  users: z.record(z.string(), budgetLimits).optional(),
});

const dingtalkId = z.string().trim().min(1).max(128);
const user = z.strictObject({
  email: z.email({ error: "must be an email address" }).transform((e) => e.trim().toLowerCase()),
  role: z.enum(ROLES.map((r) => r.toLowerCase()) as ["admin", "approver", "operator", "viewer"]),
  /** The person's DingTalk identity: card clicks by this userId are theirs; their own requests are not theirs to approve. */
  dingtalk: z
    .strictObject({ user_id: dingtalkId.optional(), union_id: dingtalkId.optional() })
    .refine((d) => d.user_id !== undefined || d.union_id !== undefined, { error: "give user_id or union_id" })
    .optional(),
});

// Stored as given (ConfigSection) and read by the runtime and the console (core approvals.ts).
const conversationRef = z.string().min(1).max(128);
const quorum = z.number().int().min(1).max(10);
const minutes = z
  .number()
  .int()
  .min(1)
  .max(30 * 24 * 60);
export const approvalsSectionSchema = z.strictObject({
  /** A card template published in the DingTalk developer console (Approve / Reject buttons); without it a markdown message with a console link is sent. */
  card_template_id: z.string().trim().min(1).max(128).optional(),
  /** DingTalk groups (openConversationId) that receive each new request. */
  approver_chats: z.array(conversationRef).max(20).optional(),
  /** The group a request still pending after `escalate_after_minutes` is announced to again. */
  escalation_chat: conversationRef.optional(),
  escalate_after_minutes: minutes.optional(),
  /** How long a request waits for a decision (default 30). */
  expires_after_minutes: minutes.optional(),
  /** Distinct approvers needed per risk class (default write 1, destructive 2). */
  quorum: z.strictObject({ write: quorum.optional(), destructive: quorum.optional() }).optional(),
  /** Per skill: its own quorum and expiry. */
  skills: z
    .record(
      z.string().min(1).max(128),
      z.strictObject({ quorum: quorum.optional(), expires_after_minutes: minutes.optional() }),
    )
    .optional(),
});
export type ApprovalsSection = z.output<typeof approvalsSectionSchema>;
const approvals = approvalsSectionSchema;
/** An ops chat: a conversation id (every purpose), or one with its purposes. */
const OPS_PURPOSES = ["alerts", "approvals", "incidents"] as const;
const opsChat = z.preprocess(
  (v) => (typeof v === "string" ? { id: v, purposes: [...OPS_PURPOSES] } : v),
  z.strictObject({
    id: conversationRef,
    purposes: z.array(z.enum(OPS_PURPOSES)).min(1),
  }),
);
export const opsChatsSectionSchema = z.array(opsChat).max(20);
/** Who reads message and reply texts in the console's conversation log (default ADMIN and OPERATOR). */
export const conversationLogSectionSchema = z.strictObject({
  text_roles: z
    .array(
      z
        .string()
        .transform((r) => r.toUpperCase())
        .pipe(
          z.enum(["ADMIN", "APPROVER", "OPERATOR", "VIEWER"], {
            error: "a role is admin, approver, operator or viewer",
          }),
        ),
    )
    .max(4),
});
export type ConversationLogSection = z.output<typeof conversationLogSectionSchema>;
export const RESERVED_SECTIONS = ["approvals", "ops_chats", "retention", "conversation_log"] as const;

/**
 * A safe-mode activation the file wants in force (core `applySafeMode`, as the console and the
 * CLI): scopes (left out or empty: everything), a level, a reason, and optionally a TTL counted
 * from the apply that opens it, and the message users get.
 */
const safeModeEntry = z.strictObject({
  scopes: z.array(safeModeScopeSchema).max(50, { error: "at most 50 scopes" }).default([]),
  level: z
    .string()
    .transform((l, ctx) => {
      const level = SAFE_MODE_LEVELS.find((known) => known === l.toUpperCase());
      if (level) return level;
      ctx.addIssue({ code: "custom", message: `"${l}" is not a level: use read_only or maintenance` });
      return z.NEVER;
    })
    .default("READ_ONLY"),
  reason: z
    .string({ error: "is required: say why (it goes into the history and the incident)" })
    .trim()
    .min(1, { error: "is required: say why (it goes into the history and the incident)" })
    .max(500, { error: "is too long (500 characters at most)" }),
  ttl: z
    .string()
    .transform((text, ctx) => {
      try {
        const ms = parseDuration(text);
        if (ms < MIN_SAFE_MODE_TTL_MS || ms > MAX_SAFE_MODE_TTL_MS) {
          ctx.addIssue({ code: "custom", message: "must be between 1m and 30d" });
          return z.NEVER;
        }
        return ms;
      } catch (error) {
        ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
        return z.NEVER;
      }
    })
    .optional(),
  message: z.string().trim().max(500, { error: "is too long (500 characters at most)" }).optional(),
});
export type SafeModeYaml = z.output<typeof safeModeEntry>;

const routeSpec = z.strictObject({
  model: z.string().min(1),
  max_tool_rounds: z.number().int().min(0).max(20).optional(),
});

const modelName = z.string().regex(NAME, { error: "model names are letters, digits, _ . - (up to 64)" });

/** Header values: env var references only, like model keys (a literal token is refused); the variable holds the whole value (e.g. "Bearer ..."). */
const headerRefs = z.record(
  z.string().regex(HEADER_NAME, { error: "header names are letters, digits and -" }),
  z.string().transform((v, ctx) => {
    const ref = ENV_REF.exec(v.trim());
    if (!ref) {
      ctx.addIssue({
        code: "custom",
        message:
          "a literal header value is not allowed in the config file: write ${ENV_VAR_NAME} and put the value in that env var",
      });
      return z.NEVER;
    }
    return ref[1]!;
  }),
);

const mcpServer = z.strictObject({
  url: httpUrl,
  headers: headerRefs.optional(),
  timeout_ms: z.number().int().min(100).max(120_000).optional(),
  max_concurrency: z.number().int().min(1).max(1_000).optional(),
  enabled: z.boolean().optional(),
});

const HTTP_TOOL_KEY = /^http\.[a-z][a-z0-9_]{0,47}$/;
const httpTool = z.strictObject({
  description: z.string().trim().min(1).max(2_000),
  method: httpToolRequestSchema.shape.method,
  url: httpToolRequestSchema.shape.url,
  headers: headerRefs.optional(),
  input_schema: z.record(z.string(), z.unknown()).default({ type: "object", properties: {} }),
  risk_class: z.enum(RISK_CLASSES.map((r) => r.toLowerCase()) as ["read", "write", "destructive"]),
  max_bytes: httpToolRequestSchema.shape.maxBytes.optional(),
  json_path: httpToolRequestSchema.shape.jsonPath,
  timeout_ms: z.number().int().min(100).max(120_000).optional(),
  enabled: z.boolean().optional(),
  requires_approval: z.boolean().optional(),
  untrusted_output: z.boolean().optional(),
});
export type HttpToolYaml = z.output<typeof httpTool>;

export const onboardSchema = z
  .strictObject({
    version: z.literal(1).optional(),
    models: z.record(modelName, model).default({}),
    routing: z
      .strictObject({
        defaults: routeSpec.optional(),
        /** Routes of their own, keyed by the DingTalk conversationId; routes not listed stay. */
        conversations: z.record(z.string().min(1).max(128), routeSpec).optional(),
      })
      .optional(),
    limits: z
      .strictObject({ max_concurrency_per_model: z.record(modelName, z.number().int().min(1).max(1_000)).optional() })
      .optional(),
    conversations: z.array(conversation).default([]),
    skills: z.array(skill).default([]),
    flags: z.record(flagKeySchema, flagValue).default({}),
    budgets: budgets.optional(),
    users: z.array(user).default([]),
    approvals: approvals.optional(),
    /** Chats told about safe mode and the kill switch (purpose "incidents", or a bare id). */
    ops_chats: opsChatsSectionSchema.optional(),
    /** Days each kind of data is kept (null: forever); kinds left out keep their defaults (core retention.ts). */
    retention: retentionSectionSchema.optional(),
    conversation_log: conversationLogSectionSchema.optional(),
    /**
     * Safe-mode activations to have in force. Each is opened, or the one in force on the same
     * scopes is updated when its level or message differs; activations the file does not list
     * are left as they are (ending one is the console's or `clawgate safe-mode off`'s decision).
     */
    safe_mode: z.array(safeModeEntry).max(50).optional(),
    /** MCP servers (streamable HTTP), keyed by name: their tools become skills mcp.<name>.<tool>. */
    mcp_servers: z
      .record(z.string().regex(MCP_SERVER_NAME, { error: `MCP server names are ${MCP_SERVER_NAME_HELP}` }), mcpServer)
      .optional(),
    /** HTTP tools keyed by skill key (`http.<name>`). */
    http_tools: z
      .record(
        z.string().regex(HTTP_TOOL_KEY, { error: "HTTP tool keys are http.<name> (lowercase letters, digits, _)" }),
        httpTool,
      )
      .optional(),
  })
  .superRefine((c, ctx) => {
    const dup = (items: { id?: string; key?: string }[], field: "id" | "key", path: string) => {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        const v = item[field]!;
        if (seen.has(v)) ctx.addIssue({ code: "custom", path: [path, i, field], message: `duplicate ${field} "${v}"` });
        seen.add(v);
      });
    };
    dup(c.conversations, "id", "conversations");
    dup(c.skills, "key", "skills");
    const scopeSets = new Set<string>();
    (c.safe_mode ?? []).forEach((a, i) => {
      const set = [...new Set(a.scopes)].sort().join(" ");
      if (scopeSets.has(set))
        ctx.addIssue({
          code: "custom",
          path: ["safe_mode", i, "scopes"],
          message: `duplicate scopes "${set || "everything"}" (one activation per set of scopes)`,
        });
      scopeSets.add(set);
    });
    const emails = new Set<string>();
    c.users.forEach((u, i) => {
      if (emails.has(u.email))
        ctx.addIssue({ code: "custom", path: ["users", i, "email"], message: `duplicate email "${u.email}"` });
      emails.add(u.email);
    });
    // One DingTalk person is one console user: a card click must name exactly one decider.
    for (const field of ["user_id", "union_id"] as const) {
      const seen = new Set<string>();
      c.users.forEach((u, i) => {
        const v = u.dingtalk?.[field];
        if (v === undefined) return;
        if (seen.has(v))
          ctx.addIssue({ code: "custom", path: ["users", i, "dingtalk", field], message: `duplicate ${field} "${v}"` });
        seen.add(v);
      });
    }
    // The console's budget rules (subject: a DingTalk id, no spaces, at most 200 characters).
    for (const [scope, entries] of [
      ["CONVERSATION", c.budgets?.conversations],
      ["USER", c.budgets?.users],
    ] as const) {
      for (const subject of Object.keys(entries ?? {})) {
        const nolimits = { maxContextTokens: null, dailyTokens: null, monthlyTokens: null, requestsPerMinute: null };
        const checked = budgetCreateSchema.safeParse({ scope, subject, ...nolimits });
        for (const issue of checked.success ? [] : checked.error.issues) {
          const section = scope === "USER" ? "users" : "conversations";
          ctx.addIssue({ code: "custom", path: ["budgets", section, subject], message: issue.message });
        }
      }
    }
  });

export type OnboardConfig = z.output<typeof onboardSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    "",
  );
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = formatPath(issue.path);
  if (issue.code === "unrecognized_keys")
    return `${at || "(file)"}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}`;
  let message = issue.message;
  // zod leaves `input` off issues by default; its message names what it received.
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) message = "is required";
  else if (issue.code === "invalid_value")
    message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  return `${at || "(file)"}: ${message}`;
}

/** Parses and validates the file's text; throws a DomainError with every problem found. */
export function parseOnboardConfig(text: string): OnboardConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw invalidOnboardConfig(
      doc.errors.map((e) => `YAML line ${lineCounter.linePos(e.pos[0]).line}: ${e.message.split("\n")[0]}`),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) throw invalidOnboardConfig(["(file): is empty"]);
  const result = onboardSchema.safeParse(data);
  if (!result.success) throw invalidOnboardConfig(result.error.issues.map(describeIssue));
  return result.data;
}
