/**
 * Applies an onboarding config as the desired state of what it names: models, the default
 * route, per-model concurrency, conversations, skills (a skill's `rules`, when given, are its
 * whole rule set; its `settings`, when given, its whole settings object), feature flags, budgets
 * (each listed budget's limits; one left out is unlimited), users (created, or their role set;
 * never deleted) and the reserved sections (`approvals`, `ops_chats`, stored as given). What the
 * file leaves out is left as it is. Every step computes its change first and writes only when
 * not a dry run, so the plan and the applied change agree.
 */
import type { Prisma, Tx } from "@clawgate/db";
import type { Actor } from "../actor.ts";
import { BUILTIN_SKILLS, checkSkillSettings } from "@clawgate/skills";
import { canonicalJson } from "../audit.ts";
import { LIMIT_FIELDS } from "../console/budgets.ts";
import { isDemotion, setUserRole } from "../console/users.ts";
import { isDomainError } from "../errors.ts";
import { applySafeMode, checkSafeModeScopes, describeScopes, sameScopes } from "../safe-mode.ts";
import { diffFields, type FieldDiff } from "../diff.ts";
import {
  modelBaseUrlProblem,
  secretRefProblem,
  skillSettingsSecretProblems,
  type SecretRefPolicy,
} from "../secret-refs.ts";
import { mcpHeaderProblems, upsertMcpServer } from "../tools/mcp.ts";
import {
  invalidOnboardConfig,
  RESERVED_SECTIONS,
  type BudgetLimitsYaml,
  type HttpToolYaml,
  type OnboardConfig,
} from "./schema.ts";
import { definitionHash, type RiskClass } from "@clawgate/skills";

export interface PlannedChange {
  target:
    | "model"
    | "route"
    | "conversation"
    | "skill"
    | "skill_rule"
    | "flag"
    | "budget"
    | "user"
    | "section"
    | "mcp_server"
    | "http_tool"
    | "safe_mode";
  id: string;
  action: "create" | "update" | "delete";
  diff?: FieldDiff;
  /** Said with the change in the plan (e.g. a reserved section nothing reads yet). */
  note?: string;
}

/** Who applies the file (the audit entry's and a safe-mode activation's actor) and when. */
export interface ApplyContext {
  actor: Actor;
  now: Date;
}

export const ONBOARD_ACTOR: Actor = { type: "CLI", name: "clawgate onboard" };

type Step = (tx: Tx, config: OnboardConfig, write: boolean, out: PlannedChange[], ctx: ApplyContext) => Promise<void>;

const pick = <T extends object, K extends keyof T>(obj: T, keys: readonly K[]) =>
  Object.fromEntries(keys.map((k) => [k, obj[k]])) as Pick<T, K>;

/**
 * Every problem that needs the database or the operator's policy, all at once before anything is
 * written: references to models, secret references (the key env vars and skill `*Env` settings),
 * model hosts, new flags without a description, and the last active admin's demotion.
 */
async function checkReferences(tx: Tx, config: OnboardConfig, policy: SecretRefPolicy): Promise<void> {
  const stored = new Set((await tx.modelEndpoint.findMany({ select: { name: true } })).map((m) => m.name));
  const known = (name: string) => name in config.models || stored.has(name);
  const problems: string[] = [];
  const route = config.routing?.defaults?.model;
  if (route !== undefined && !known(route))
    problems.push(`routing.defaults.model: no model named "${route}" (define it under models)`);
  const listed = new Set(config.conversations.map((c) => c.id));
  for (const [cid, spec] of Object.entries(config.routing?.conversations ?? {})) {
    if (!known(spec.model))
      problems.push(`routing.conversations.${cid}.model: no model named "${spec.model}" (define it under models)`);
    if (
      !listed.has(cid) &&
      !(await tx.conversation.findUnique({ where: { conversationId: cid }, select: { id: true } }))
    )
      problems.push(`routing.conversations.${cid}: no conversation "${cid}" (list it under conversations)`);
  }
  for (const name of Object.keys(config.limits?.max_concurrency_per_model ?? {})) {
    if (!known(name))
      problems.push(`limits.max_concurrency_per_model.${name}: no model named "${name}" (define it under models)`);
  }
  for (const [name, m] of Object.entries(config.models)) {
    const key = m.api_key ? secretRefProblem(m.api_key, "model_api_key", policy) : null;
    if (key) problems.push(`models.${name}.api_key: ${key}`);
    const host = modelBaseUrlProblem(m.base_url, policy);
    if (host) problems.push(`models.${name}.base_url: ${host}`);
  }
  config.skills.forEach((s, i) => {
    for (const p of skillSettingsSecretProblems(s.key, s.settings, policy))
      problems.push(`skills[${i}].settings: ${p}`);
  });
  for (const [name, m] of Object.entries(config.mcp_servers ?? {}))
    for (const p of mcpHeaderProblems(m.headers ?? {}, policy)) problems.push(`mcp_servers.${name}.${p}`);
  for (const [key, t] of Object.entries(config.http_tools ?? {})) {
    for (const p of mcpHeaderProblems(t.headers ?? {}, policy)) problems.push(`http_tools.${key}.${p}`);
    const held = BUILTIN_SKILLS.some((m) => m.key === key)
      ? { source: "BUILTIN" }
      : await tx.skill.findUnique({ where: { key }, select: { source: true } });
    if (held && held.source !== "HTTP")
      problems.push(`http_tools.${key}: the key is taken by a ${held.source.toLowerCase()} skill`);
  }
  const flags = Object.entries(config.flags).filter(([, v]) => typeof v !== "object" || !v.description);
  if (flags.length > 0) {
    const existing = new Set(
      (await tx.featureFlag.findMany({ where: { key: { in: flags.map(([k]) => k) } }, select: { key: true } })).map(
        (f) => f.key,
      ),
    );
    for (const [key] of flags) {
      if (!existing.has(key))
        problems.push(`flags.${key}: a new flag needs a description: ${key}: { enabled: ..., description: "..." }`);
    }
  }
  const demoted = await tx.user.findMany({
    where: {
      role: "ADMIN",
      disabledAt: null,
      email: { in: config.users.filter((u) => u.role !== "admin").map((u) => u.email), mode: "insensitive" },
    },
    select: { id: true },
  });
  if (demoted.length > 0) {
    const promoted = config.users.filter((u) => u.role === "admin").map((u) => u.email);
    const found = await tx.user.findMany({
      where: { email: { in: promoted, mode: "insensitive" } },
      select: { email: true },
    });
    // Listed admins that do not exist yet are created as ADMIN.
    const created = promoted.filter((e) => !found.some((f) => f.email?.toLowerCase() === e)).length;
    const admins = await tx.user.count({
      where: {
        disabledAt: null,
        OR: [{ role: "ADMIN" }, { email: { in: promoted, mode: "insensitive" } }],
        id: { notIn: demoted.map((u) => u.id) },
      },
    });
    if (admins + created === 0)
      problems.push("users: this would leave no active ADMIN: keep one (role: admin) or add another admin first");
  }
  if (problems.length > 0) throw invalidOnboardConfig(problems);
}

const models: Step = async (tx, config, write, out) => {
  const limits = config.limits?.max_concurrency_per_model ?? {};
  const names = new Set([...Object.keys(config.models), ...Object.keys(limits)]);
  for (const name of names) {
    const spec = config.models[name];
    const desired = {
      ...(spec && { kind: "OPENAI_COMPATIBLE" as const, baseUrl: spec.base_url, model: spec.model }),
      ...(spec?.api_key !== undefined && { apiKeyEnv: spec.api_key }),
      ...(spec?.timeout_ms !== undefined && { timeoutMs: spec.timeout_ms }),
      ...(spec?.enabled !== undefined && { enabled: spec.enabled }),
      ...(limits[name] !== undefined && { maxConcurrency: limits[name] }),
    };
    const before = await tx.modelEndpoint.findUnique({ where: { name } });
    if (!before) {
      // checkReferences guarantees a model that is only limited already exists.
      if (!spec) continue;
      out.push({ target: "model", id: name, action: "create", diff: diffFields(null, desired) });
      if (write)
        await tx.modelEndpoint.create({ data: { name, baseUrl: spec.base_url, model: spec.model, ...desired } });
      continue;
    }
    const diff = diffFields(pick(before, Object.keys(desired) as (keyof typeof desired)[]), desired);
    if (Object.keys(diff).length === 0) continue;
    out.push({ target: "model", id: name, action: "update", diff });
    if (write) await tx.modelEndpoint.update({ where: { name }, data: desired });
  }
};

type RouteSpec = { model: string; max_tool_rounds?: number | undefined };

/** Creates or changes one route: the default one (conversationId null) or a conversation's. */
async function applyRoute(
  tx: Tx,
  spec: RouteSpec,
  conversationId: string | null,
  write: boolean,
  out: PlannedChange[],
): Promise<void> {
  const conversation = conversationId
    ? await tx.conversation.findUnique({ where: { conversationId }, select: { id: true } })
    : null;
  const current = conversationId
    ? conversation &&
      (await tx.route.findUnique({
        where: { conversationId: conversation.id },
        include: { modelEndpoint: { select: { name: true } } },
      }))
    : await tx.route.findFirst({
        where: { isDefault: true, conversationId: null },
        include: { modelEndpoint: { select: { name: true } } },
      });
  const desired = {
    model: spec.model,
    ...(spec.max_tool_rounds !== undefined && { maxToolRounds: spec.max_tool_rounds }),
  };
  const diff = diffFields(
    current
      ? {
          model: current.modelEndpoint.name,
          ...("maxToolRounds" in desired && { maxToolRounds: current.maxToolRounds }),
        }
      : null,
    desired,
  );
  if (Object.keys(diff).length === 0) return;
  out.push({ target: "route", id: conversationId ?? "default", action: current ? "update" : "create", diff });
  if (!write) return;
  const { id: modelEndpointId } = await tx.modelEndpoint.findUniqueOrThrow({
    where: { name: spec.model },
    select: { id: true },
  });
  const data = { modelEndpointId, ...(spec.max_tool_rounds !== undefined && { maxToolRounds: spec.max_tool_rounds }) };
  if (current) await tx.route.update({ where: { id: current.id }, data });
  else {
    // A conversation named in the file exists by now: the conversations step ran first.
    const owner = conversationId
      ? (await tx.conversation.findUniqueOrThrow({ where: { conversationId }, select: { id: true } })).id
      : null;
    await tx.route.create({ data: { ...data, isDefault: owner === null, conversationId: owner } });
  }
}

const route: Step = async (tx, config, write, out) => {
  const defaults = config.routing?.defaults;
  if (defaults) await applyRoute(tx, defaults, null, write, out);
};

const conversationRoutes: Step = async (tx, config, write, out) => {
  for (const [conversationId, spec] of Object.entries(config.routing?.conversations ?? {}))
    await applyRoute(tx, spec, conversationId, write, out);
};

const conversations: Step = async (tx, config, write, out) => {
  for (const c of config.conversations) {
    const desired = {
      ...(c.title !== undefined && { title: c.title }),
      environment: c.environment === "test" ? ("TEST" as const) : ("PROD" as const),
      status: c.enabled ? ("ENABLED" as const) : ("DISABLED" as const),
    };
    const before = await tx.conversation.findUnique({ where: { conversationId: c.id } });
    if (!before) {
      const data = {
        conversationId: c.id,
        type: c.type === "group" ? ("GROUP" as const) : ("SINGLE" as const),
        ...desired,
      };
      out.push({ target: "conversation", id: c.id, action: "create", diff: diffFields(null, desired) });
      if (write) await tx.conversation.create({ data });
      continue;
    }
    const diff = diffFields(pick(before, Object.keys(desired) as (keyof typeof desired)[]), desired);
    if (Object.keys(diff).length === 0) continue;
    out.push({ target: "conversation", id: c.id, action: "update", diff });
    if (write) await tx.conversation.update({ where: { conversationId: c.id }, data: desired });
  }
};

const SCOPES = { global: "GLOBAL", conversation: "CONVERSATION", user: "USER" } as const;
const ENVIRONMENTS = ["TEST", "PROD"] as const;
const EFFECTS = { allow: "ALLOW", deny: "DENY" } as const;

const skills: Step = async (tx, config, write, out) => {
  for (const s of config.skills) {
    const manifest = BUILTIN_SKILLS.find((m) => m.key === s.key)!;
    const before = await tx.skill.findUnique({ where: { key: s.key }, include: { rules: true } });
    const desired = {
      enabled: s.enabled ?? before?.enabled ?? manifest.enabledByDefault,
      requiresApproval: s.requires_approval ?? before?.requiresApproval ?? manifest.requiresApproval,
      ...(s.environments && {
        environments: ENVIRONMENTS.filter((e) => s.environments!.includes(e.toLowerCase() as "test")),
      }),
    };
    // Compared as the manifest parses both (defaults filled in; jsonb keeps its own key order).
    const storedSettings = before ? checkSkillSettings(manifest, before.settings) : null;
    const current = storedSettings?.ok ? storedSettings.settings : (before?.settings ?? {});
    const settingsChanged = s.settings !== undefined && canonicalJson(s.settings) !== canonicalJson(current);
    const settings = s.settings as Prisma.InputJsonObject | undefined;
    if (!before) {
      out.push({
        target: "skill",
        id: s.key,
        action: "create",
        diff: { ...diffFields(null, desired), ...(settingsChanged && { settings: { changed: true as const } }) },
      });
      if (write) {
        const { key, description, riskClass, timeoutMs, cacheTtlSeconds } = manifest;
        await tx.skill.create({
          data: { key, description, riskClass, timeoutMs, cacheTtlSeconds, ...desired, ...(settings && { settings }) },
        });
      }
    } else {
      const diff = diffFields(pick(before, Object.keys(desired) as (keyof typeof desired)[]), desired);
      // Settings name env vars and hosts, never secrets: the diff may show them.
      if (settingsChanged) diff.settings = { from: before.settings, to: s.settings };
      if (Object.keys(diff).length > 0) {
        out.push({ target: "skill", id: s.key, action: "update", diff });
        if (write)
          await tx.skill.update({
            where: { key: s.key },
            data: { ...desired, ...(settingsChanged && settings && { settings }) },
          });
      }
    }
    if (s.rules === undefined) continue;
    const existing = new Map((before?.rules ?? []).map((r) => [`${r.scope}:${r.subject}`, r]));
    for (const r of s.rules) {
      const scope = SCOPES[r.scope];
      const subject = r.subject ?? "";
      const effect = EFFECTS[r.effect];
      const id = `${s.key} ${scope}${subject ? ` ${subject}` : ""}`;
      const found = existing.get(`${scope}:${subject}`);
      existing.delete(`${scope}:${subject}`);
      if (found?.effect === effect) continue;
      out.push({
        target: "skill_rule",
        id,
        action: found ? "update" : "create",
        diff: { effect: { from: found?.effect ?? null, to: effect } },
      });
      if (!write) continue;
      if (found) await tx.skillRule.update({ where: { id: found.id }, data: { effect } });
      else await tx.skillRule.create({ data: { skillKey: s.key, scope, subject, effect } });
    }
    for (const stale of existing.values()) {
      out.push({
        target: "skill_rule",
        id: `${s.key} ${stale.scope}${stale.subject ? ` ${stale.subject}` : ""}`,
        action: "delete",
        diff: { effect: { from: stale.effect, to: null } },
      });
      if (write) await tx.skillRule.delete({ where: { id: stale.id } });
    }
  }
};

const flags: Step = async (tx, config, write, out) => {
  for (const [key, value] of Object.entries(config.flags)) {
    const desired =
      typeof value === "boolean"
        ? { enabled: value }
        : { enabled: value.enabled, ...(value.description && { description: value.description }) };
    const before = await tx.featureFlag.findUnique({ where: { key } });
    if (!before) {
      // checkReferences guarantees a new flag has its description.
      out.push({ target: "flag", id: key, action: "create", diff: diffFields(null, desired) });
      if (write) await tx.featureFlag.create({ data: { key, description: "", ...desired } });
      continue;
    }
    const diff = diffFields(pick(before, Object.keys(desired) as (keyof typeof desired)[]), desired);
    if (Object.keys(diff).length === 0) continue;
    out.push({ target: "flag", id: key, action: "update", diff });
    if (write) await tx.featureFlag.update({ where: { key }, data: desired });
  }
};

const limitsOf = (b: BudgetLimitsYaml) => ({
  maxContextTokens: b.max_context_tokens ?? null,
  dailyTokens: b.daily_tokens ?? null,
  monthlyTokens: b.monthly_tokens ?? null,
  requestsPerMinute: b.requests_per_minute ?? null,
});

const budgets: Step = async (tx, config, write, out) => {
  const b = config.budgets;
  if (!b) return;
  const wanted = [
    ...(b.global ? [{ scope: "GLOBAL" as const, subject: "", limits: b.global }] : []),
    ...(b.default ? [{ scope: "DEFAULT" as const, subject: "", limits: b.default }] : []),
    ...Object.entries(b.conversations ?? {}).map(([subject, limits]) => ({
      scope: "CONVERSATION" as const,
      subject,
      limits,
    })),
    ...Object.entries(b.users ?? {}).map(([subject, limits]) => ({ scope: "USER" as const, subject, limits })),
  ];
  for (const w of wanted) {
    const desired = limitsOf(w.limits);
    const id = `${w.scope}${w.subject ? ` ${w.subject}` : ""}`;
    const where = { scope_subject: { scope: w.scope, subject: w.subject } };
    const before = await tx.tokenBudget.findUnique({ where });
    // A new budget's diff names the limits it sets (null = unlimited, nothing to show).
    const diff = before
      ? diffFields(Object.fromEntries(LIMIT_FIELDS.map((k) => [k, before[k]])), desired)
      : diffFields(null, Object.fromEntries(Object.entries(desired).filter(([, v]) => v !== null)));
    if (before && Object.keys(diff).length === 0) continue;
    out.push({ target: "budget", id, action: before ? "update" : "create", diff });
    if (!write) continue;
    if (before) await tx.tokenBudget.update({ where, data: desired });
    else await tx.tokenBudget.create({ data: { scope: w.scope, subject: w.subject, ...desired } });
  }
};

/** The CLI is no console user: setUserRole's "not yourself" rule never matches it. */
const CLI_ACTOR_ID = "clawgate-onboard";

const users: Step = async (tx, config, write, out) => {
  for (const u of config.users) {
    const role = u.role.toUpperCase() as "ADMIN" | "APPROVER" | "OPERATOR" | "VIEWER";
    const before = await tx.user.findFirst({
      where: { email: { equals: u.email, mode: "insensitive" } },
      select: { id: true, role: true, dingtalkUserId: true, dingtalkUnionId: true },
    });
    // The DingTalk identity, when given, is the whole of it (a field left out is cleared).
    const identity = u.dingtalk
      ? { dingtalkUserId: u.dingtalk.user_id ?? null, dingtalkUnionId: u.dingtalk.union_id ?? null }
      : undefined;
    const identityDiff = identity
      ? diffFields(
          before ? { dingtalkUserId: before.dingtalkUserId, dingtalkUnionId: before.dingtalkUnionId } : null,
          identity,
        )
      : {};
    const roleChanged = before?.role !== role;
    if (!roleChanged && Object.keys(identityDiff).length === 0) continue;
    out.push({
      target: "user",
      id: u.email,
      action: before ? "update" : "create",
      diff: { ...(roleChanged && { role: { from: before?.role ?? null, to: role } }), ...identityDiff },
      ...(before && isDemotion(before.role, role) && { note: "their sessions end: they sign in again" }),
    });
    if (!write) continue;
    if (identity) {
      // Another user holding the identity is a mistake in the file, not something to move silently.
      const holder = await tx.user.findFirst({
        where: {
          OR: [
            ...(identity.dingtalkUserId ? [{ dingtalkUserId: identity.dingtalkUserId }] : []),
            ...(identity.dingtalkUnionId ? [{ dingtalkUnionId: identity.dingtalkUnionId }] : []),
          ],
          NOT: { email: { equals: u.email, mode: "insensitive" } },
        },
        select: { email: true },
      });
      if (holder)
        throw invalidOnboardConfig([
          `users: ${u.email}: the DingTalk identity is already ${holder.email ?? "another user"}'s`,
        ]);
    }
    if (!before) {
      await tx.user.create({ data: { email: u.email, role, ...identity } });
      continue;
    }
    if (identity) await tx.user.update({ where: { id: before.id }, data: identity });
    if (!roleChanged) continue;
    try {
      // The console's rules: the last active admin stays, a demotion ends the user's sessions.
      await setUserRole(tx, CLI_ACTOR_ID, { userId: before.id, role });
    } catch (error) {
      if (isDomainError(error)) throw invalidOnboardConfig([`users: ${u.email}: ${error.message}`]);
      throw error;
    }
  }
};

/** What each section is for: both are read by the runtime (and `approvals` by the console). */
const SECTION_NOTES: Record<(typeof RESERVED_SECTIONS)[number], string> = {
  approvals: "approval cards, approver chats, escalation, quorum and expiry (read at the next request)",
  ops_chats: "chats told when safe mode or the kill switch starts, changes or ends (read at the next notice)",
  retention: "days each kind of data is kept (read by the next purge run)",
  conversation_log: "who reads message texts in the console's conversation log (read at the next page view)",
};

const sections: Step = async (tx, config, write, out) => {
  for (const key of RESERVED_SECTIONS) {
    const value = config[key];
    if (value === undefined) continue;
    const before = await tx.configSection.findUnique({ where: { key } });
    if (before && canonicalJson(before.value) === canonicalJson(value)) continue;
    out.push({
      target: "section",
      id: key,
      action: before ? "update" : "create",
      diff: { value: { from: before?.value ?? null, to: value } },
      note: SECTION_NOTES[key],
    });
    if (!write) continue;
    const json = value as Prisma.InputJsonValue;
    await tx.configSection.upsert({ where: { key }, create: { key, value: json }, update: { value: json } });
  }
};

// Models first: a route may point at a model created in the same apply; conversations before
// their routes.
const mcpServers: Step = async (tx, config, write, out) => {
  for (const [name, m] of Object.entries(config.mcp_servers ?? {})) {
    const change = await upsertMcpServer(
      tx,
      {
        name,
        url: m.url,
        headers: m.headers ?? {},
        ...(m.timeout_ms !== undefined && { timeoutMs: m.timeout_ms }),
        ...(m.max_concurrency !== undefined && { maxConcurrency: m.max_concurrency }),
        ...(m.enabled !== undefined && { enabled: m.enabled }),
      },
      // Checked in checkReferences with the operator's policy.
      { allow: { model_api_key: ["*"], skill_secret: ["*"] }, modelHosts: null },
      write,
    );
    if (change)
      out.push({
        target: "mcp_server",
        id: name,
        ...change,
        note: "its tools are listed by the runtime (mcp.sync) and start disabled until an admin enables them",
      });
  }
};

/** An HTTP tool's stored definition: what is pinned and what the runtime builds the skill from. */
export function httpToolDefinition(t: HttpToolYaml) {
  return {
    description: t.description,
    inputSchema: t.input_schema,
    request: {
      method: t.method,
      url: t.url,
      headers: t.headers ?? {},
      maxBytes: t.max_bytes ?? 64 * 1024,
      ...(t.json_path !== undefined && { jsonPath: t.json_path }),
    },
  };
}

const httpTools: Step = async (tx, config, write, out) => {
  for (const [key, t] of Object.entries(config.http_tools ?? {})) {
    const definition = httpToolDefinition(t);
    const riskClass = t.risk_class.toUpperCase() as RiskClass;
    // Declared by an admin in the file: approved as declared (the hash pins it).
    const desired = {
      description: t.description,
      riskClass,
      enabled: t.enabled ?? true,
      requiresApproval: t.requires_approval ?? riskClass !== "READ",
      untrustedOutput: t.untrusted_output ?? true,
      timeoutMs: t.timeout_ms ?? 10_000,
      approvedHash: definitionHash(definition),
    };
    if (riskClass === "DESTRUCTIVE") desired.requiresApproval = true;
    const before = await tx.skill.findUnique({ where: { key } });
    const was = before && {
      description: before.description,
      riskClass: before.riskClass,
      enabled: before.enabled,
      requiresApproval: before.requiresApproval,
      untrustedOutput: before.untrustedOutput,
      timeoutMs: before.timeoutMs,
      approvedHash: before.approvedHash,
    };
    const diff = diffFields(was ?? null, desired);
    if (before && Object.keys(diff).length === 0) continue;
    out.push({ target: "http_tool", id: key, action: before ? "update" : "create", diff });
    if (!write) continue;
    const data = { ...desired, source: "HTTP" as const, definition: definition as Prisma.InputJsonObject };
    if (before) await tx.skill.update({ where: { key }, data });
    else await tx.skill.create({ data: { key, ...data } });
  }
};

/**
 * The file's safe-mode activations, through core `applySafeMode` as the console and the CLI
 * switch them (incident, ops notice). An entry whose scopes match an activation in force updates
 * it when its level or message differs and is otherwise left as it is (a re-apply does not extend
 * its expiry); any other entry opens one. Last: its scopes may name what this file creates.
 */
const safeMode: Step = async (tx, config, write, out, ctx) => {
  const entries = config.safe_mode ?? [];
  if (entries.length === 0) return;
  const live = await tx.safeModeEvent.findMany({
    where: { endedAt: null, kind: "SAFE_MODE", OR: [{ expiresAt: null }, { expiresAt: { gt: ctx.now } }] },
  });
  // A dry run writes nothing, so what the file itself declares counts as known.
  const declared = new Set([
    ...config.conversations.map((c) => `conversation:${c.id}`),
    ...config.skills.map((s) => `skill:${s.key}`),
    ...Object.keys(config.http_tools ?? {}).map((k) => `skill:${k}`),
  ]);
  for (const [i, entry] of entries.entries()) {
    const where = `safe_mode[${i}] (${describeScopes(entry.scopes)})`;
    try {
      const scopes = await checkSafeModeScopes(
        tx,
        entry.scopes.filter((s) => write || !declared.has(s)),
      );
      const all = write ? scopes : [...new Set(entry.scopes)].sort();
      const target = live.find((e) => sameScopes(e.scopes, all));
      const message = entry.message === undefined ? (target?.message ?? null) : entry.message || null;
      if (target && target.level === entry.level && target.message === message) continue;
      out.push({
        target: "safe_mode",
        id: target?.id ?? describeScopes(all),
        action: target ? "update" : "create",
        diff: diffFields<{ level: string; message: string | null }>(
          target ? { level: target.level, message: target.message } : null,
          // A new activation without a message says nothing about one.
          !target && message === null ? { level: entry.level } : { level: entry.level, message },
        ),
        note: target
          ? `safe mode on ${describeScopes(all)}`
          : `safe mode ${entry.level} on ${describeScopes(all)}${entry.ttl ? ` for ${Math.round(entry.ttl / 60_000)} min` : ""}: ${entry.reason}`,
      });
      if (!write) continue;
      await applySafeMode(
        tx,
        ctx.actor,
        {
          active: true,
          scopes: all,
          level: entry.level,
          reason: entry.reason,
          ...(entry.ttl !== undefined && { ttlMs: entry.ttl }),
          ...(entry.message !== undefined && { message: entry.message }),
        },
        ctx.now,
      );
    } catch (error) {
      if (isDomainError(error)) throw invalidOnboardConfig([`${where}: ${error.message}`]);
      throw error;
    }
  }
};

const STEPS: Step[] = [
  models,
  route,
  conversations,
  conversationRoutes,
  skills,
  flags,
  budgets,
  users,
  sections,
  mcpServers,
  httpTools,
  safeMode,
];

export async function planAndApply(
  tx: Tx,
  config: OnboardConfig,
  write: boolean,
  policy: SecretRefPolicy,
  ctx: ApplyContext = { actor: ONBOARD_ACTOR, now: new Date() },
): Promise<PlannedChange[]> {
  await checkReferences(tx, config, policy);
  const changes: PlannedChange[] = [];
  for (const step of STEPS) await step(tx, config, write, changes, ctx);
  return changes;
}
