/**
 * Skills page: what the robot may do. An admin toggles a skill and its approval requirement,
 * picks the environments it is rolled out to, edits its settings (validated by the skill's own
 * manifest schema), and keeps allow/deny rules per conversation and per user. These are config changes: the console wraps each function in `configMutation`
 * (audit entry and config revision in the same transaction; every runtime reloads).
 *
 * `explainSkillAccess` answers "can user X in conversation Y use skill Z, and why?" with the
 * runtime's own code: the snapshot loader and `decide`.
 */
import type { Db, Tx } from "@clawgate/db";
import type { RiskClass } from "@clawgate/db/enums";
import { BUILTIN_SKILLS, checkSkillSettings, settingsFields, type SettingField } from "@clawgate/skills";
import { z } from "zod";
import { diffFields, type FieldDiff } from "../diff.ts";
import { decide, MESSAGE_REASONS, offeredToModel, type PolicyOutcome, type ReasonCode } from "../policy/decide.ts";
import {
  activationPolicy,
  conversationSafeMode,
  effectiveSafeMode,
  loadPolicySnapshot,
  skillWithdrawal,
  type PolicyRiskClass,
} from "../policy/snapshot.ts";
import { skillSettingsSecretProblems, type SecretRefPolicy } from "../secret-refs.ts";
import { DomainError, parseInput } from "../errors.ts";

export const SKILL_ENVIRONMENTS = ["TEST", "PROD"] as const;
export const RULE_SCOPES = ["GLOBAL", "CONVERSATION", "USER"] as const;
export const RULE_EFFECTS = ["ALLOW", "DENY"] as const;

const skillKey = z
  .string({ error: "skillKey is required" })
  .trim()
  .min(1, { error: "skillKey is required" })
  .max(100, { error: "skillKey is too long" });

/**
 * What safe mode and the kill switch do to a skill right now, beside its own `enabled`:
 * - "kill_switch": the kill switch withdraws it (every WRITE and DESTRUCTIVE skill);
 * - "safe_mode": an activation withdraws it everywhere (its key or risk class, READ_ONLY on
 *   everything for a non-READ skill, or MAINTENANCE on everything);
 * - "safe_mode_some": an activation withdraws it in some conversations;
 * - null: neither.
 */
export type SkillWithdrawal = "kill_switch" | "safe_mode" | "safe_mode_some" | null;

export async function skillWithdrawals(
  db: Db | Tx,
  now: Date = new Date(),
): Promise<(skill: { key: string; riskClass: PolicyRiskClass }) => SkillWithdrawal> {
  const rows = await db.safeModeEvent.findMany({
    where: { endedAt: null },
    select: { id: true, kind: true, level: true, scopes: true, message: true, expiresAt: true },
  });
  const acts = rows.map(activationPolicy).filter((a) => !a.expiresAt || a.expiresAt > now);
  const everywhere = conversationSafeMode(acts, now);
  return (skill) => {
    const w = skillWithdrawal(acts, now, skill);
    if (w?.kind === "KILL_SWITCH") return "kill_switch";
    if (w) return "safe_mode";
    if (everywhere?.level === "MAINTENANCE" || (everywhere && skill.riskClass !== "READ")) return "safe_mode";
    const some = acts.some(
      (a) =>
        a.kind === "SAFE_MODE" &&
        a.conversations.size > 0 &&
        (a.skills.size || a.risks.size
          ? a.skills.has(skill.key) || a.risks.has(skill.riskClass)
          : a.level === "MAINTENANCE" || skill.riskClass !== "READ"),
    );
    return some ? "safe_mode_some" : null;
  };
}

/** Every skill (optionally of one risk class) with how many allow and deny rules it has. */
export async function listSkills(db: Db | Tx, filter: { riskClass?: RiskClass | undefined } = {}) {
  const [skills, ruleCounts, withdrawn] = await Promise.all([
    db.skill.findMany({
      where: filter.riskClass ? { riskClass: filter.riskClass } : {},
      orderBy: { key: "asc" },
      omit: { settings: true, createdAt: true, updatedAt: true, definition: true, pendingDefinition: true },
    }),
    db.skillRule.groupBy({ by: ["skillKey", "effect"], _count: { _all: true } }),
    skillWithdrawals(db),
  ]);
  const count = (key: string, effect: "ALLOW" | "DENY") =>
    ruleCounts.find((r) => r.skillKey === key && r.effect === effect)?._count._all ?? 0;
  return skills.map((s) => ({
    ...s,
    rules: { allow: count(s.key, "ALLOW"), deny: count(s.key, "DENY") },
    withdrawnBy: withdrawn(s),
  }));
}

/** One skill with its rules (newest first), for the detail view. */
export async function getSkill(db: Db | Tx, key: string) {
  const skill = await db.skill.findUnique({
    where: { key },
    include: {
      rules: {
        orderBy: [{ scope: "asc" }, { createdAt: "desc" }],
        select: { id: true, scope: true, subject: true, effect: true, note: true, createdAt: true },
      },
    },
  });
  if (!skill) throw new DomainError("NOT_FOUND", `There is no skill "${key}".`);
  const settings = isObject(skill.settings) ? skill.settings : {};
  const requiresFlag = typeof settings.requiresFlag === "string" ? settings.requiresFlag : null;
  const manifest = BUILTIN_SKILLS.find((m) => m.key === key);
  // Settings hold no secrets (a token is named by its env var), so every role may read them.
  const settingsSchema: SettingField[] = manifest ? settingsFields(manifest) : [];
  const withdrawnBy = (await skillWithdrawals(db))(skill);
  return { ...skill, settings, settingsFields: settingsSchema, requiresFlag, withdrawnBy };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A retired skill (no longer shipped, see bootstrap) is shown but never changed or used. */
const retired = (key: string) =>
  new DomainError("BAD_REQUEST", `"${key}" is retired (no longer shipped): it cannot be changed or used.`);

export const skillUpdateSchema = z
  .strictObject({
    key: skillKey,
    enabled: z.boolean({ error: "enabled must be true or false" }).optional(),
    requiresApproval: z.boolean({ error: "requiresApproval must be true or false" }).optional(),
    environments: z
      .array(z.enum(SKILL_ENVIRONMENTS, { error: "environments must be TEST and/or PROD" }))
      .min(1, { error: "pick at least one environment (disable the skill to stop it everywhere)" })
      .refine((a) => new Set(a).size === a.length, { error: "an environment is listed twice" })
      .optional(),
  })
  .refine((v) => v.enabled !== undefined || v.requiresApproval !== undefined || v.environments !== undefined, {
    error: "nothing to change: give enabled, requiresApproval or environments",
  });
export type SkillUpdate = z.input<typeof skillUpdateSchema>;

export interface SkillChange {
  key: string;
  enabled: boolean;
  requiresApproval: boolean;
  environments: ("TEST" | "PROD")[];
  diff: FieldDiff;
  summary: string;
}

/**
 * decide: READ skills never wait for an approver, DESTRUCTIVE ones always do; the flag only means
 * something for WRITE skills, so a setting that would not do what it says is refused.
 */
export function approvalSettingProblem(key: string, riskClass: string, requiresApproval: boolean): string | null {
  if (riskClass === "READ" && requiresApproval) return `"${key}" is a READ skill: read skills never need approval.`;
  if (riskClass === "DESTRUCTIVE" && !requiresApproval)
    return `"${key}" is DESTRUCTIVE: destructive skills always need an approver's grant.`;
  return null;
}

/** Toggles a skill, its approval requirement or its environments on the caller's transaction. */
export async function updateSkill(tx: Tx, input: SkillUpdate): Promise<SkillChange> {
  const { key, ...change } = parseInput(skillUpdateSchema, input);
  const locked = await tx.$queryRaw<{ key: string }[]>`SELECT key FROM "Skill" WHERE key = ${key} FOR UPDATE`;
  if (locked.length === 0) throw new DomainError("NOT_FOUND", `There is no skill "${key}".`);
  const before = await tx.skill.findUniqueOrThrow({ where: { key } });
  if (before.retiredAt) throw retired(key);
  if (change.requiresApproval !== undefined && change.requiresApproval !== before.requiresApproval) {
    const problem = approvalSettingProblem(key, before.riskClass, change.requiresApproval);
    if (problem) throw new DomainError("BAD_REQUEST", problem);
  }
  const environments = change.environments
    ? [...SKILL_ENVIRONMENTS].filter((e) => change.environments!.includes(e))
    : undefined;
  const was = { enabled: before.enabled, requiresApproval: before.requiresApproval, environments: before.environments };
  const diff = diffFields(was, { ...was, ...change, ...(environments ? { environments } : {}) });
  // Nothing to change: not written (the caller records no revision for an empty diff).
  const after =
    Object.keys(diff).length === 0
      ? before
      : await tx.skill.update({ where: { key }, data: { ...change, ...(environments ? { environments } : {}) } });
  const parts = Object.entries(diff).map(([k, d]) =>
    "from" in d ? `${k} ${JSON.stringify(d.from)} -> ${JSON.stringify(d.to)}` : k,
  );
  return {
    key,
    enabled: after.enabled,
    requiresApproval: after.requiresApproval,
    environments: after.environments,
    diff,
    summary: parts.length > 0 ? `Skill "${key}": ${parts.join(", ")}` : `Skill "${key}": unchanged`,
  };
}

export const skillSettingsSchema = z.strictObject({
  key: skillKey,
  settings: z.record(z.string(), z.unknown(), { error: "settings must be a JSON object" }),
});
export type SkillSettingsUpdate = z.input<typeof skillSettingsSchema>;

export interface SkillSettingsChange {
  key: string;
  settings: Record<string, unknown>;
  diff: FieldDiff;
  summary: string;
}

/**
 * Replaces a skill's settings on the caller's transaction, after the skill's manifest schema
 * (`checkSkillSettings`: its own settings plus `requiresFlag`, unknown keys refused) accepted
 * them; the stored object has the schema's defaults filled in. Each problem is one line of the
 * refusal's message. Nothing is written when anything is wrong.
 */
export async function updateSkillSettings(
  tx: Tx,
  input: SkillSettingsUpdate,
  secretRefs: SecretRefPolicy,
): Promise<SkillSettingsChange> {
  const { key, settings } = parseInput(skillSettingsSchema, input);
  const locked = await tx.$queryRaw<{ key: string }[]>`SELECT key FROM "Skill" WHERE key = ${key} FOR UPDATE`;
  if (locked.length === 0) throw new DomainError("NOT_FOUND", `There is no skill "${key}".`);
  const manifest = BUILTIN_SKILLS.find((m) => m.key === key);
  if (!manifest) throw new DomainError("BAD_REQUEST", `"${key}" is not a built-in skill: it has no settings schema.`);
  const check = checkSkillSettings(manifest, settings);
  if (!check.ok) throw new DomainError("BAD_REQUEST", check.errors.join("\n"));
  // A token is named by its env var: never one of Clawgate's own settings (see secret-refs.ts).
  const secretProblems = skillSettingsSecretProblems(key, check.settings, secretRefs);
  if (secretProblems.length > 0) throw new DomainError("BAD_REQUEST", secretProblems.join("\n"));
  const before = await tx.skill.findUniqueOrThrow({ where: { key }, select: { settings: true, retiredAt: true } });
  if (before.retiredAt) throw retired(key);
  const was = isObject(before.settings) ? before.settings : {};
  const diff = diffFields(was, check.settings);
  if (Object.keys(diff).length === 0)
    return { key, settings: check.settings, diff, summary: `Skill "${key}" settings: unchanged` };
  await tx.skill.update({ where: { key }, data: { settings: check.settings as object } });
  const parts = Object.entries(diff).map(([k, d]) =>
    "from" in d ? `${k} ${JSON.stringify(d.from)} -> ${JSON.stringify(d.to)}` : k,
  );
  return { key, settings: check.settings, diff, summary: `Skill "${key}" settings: ${parts.join(", ")}` };
}

// DingTalk ids (conversationId "cid…" base64-ish, staffId, unionId): printable, no spaces.
const subjectText = z
  .string()
  .trim()
  .max(128, { error: "the subject is too long (128 characters at most)" })
  .regex(/^[\x21-\x7e]*$/, { error: "the subject is a DingTalk id: letters, digits and symbols, no spaces" });

export const ruleAddSchema = z
  .strictObject({
    skillKey,
    scope: z.enum(RULE_SCOPES, { error: "scope must be GLOBAL, CONVERSATION or USER" }),
    subject: subjectText.default(""),
    effect: z.enum(RULE_EFFECTS, { error: "effect must be ALLOW or DENY" }),
    note: z.string().trim().max(200, { error: "the note is too long (200 characters at most)" }).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.scope === "GLOBAL" && v.subject !== "")
      ctx.addIssue({ code: "custom", path: ["subject"], message: "a GLOBAL rule has no subject" });
    if (v.scope === "CONVERSATION" && v.subject === "")
      ctx.addIssue({ code: "custom", path: ["subject"], message: "give the conversation's id (e.g. cid-demo-group)" });
    if (v.scope === "USER" && v.subject === "")
      ctx.addIssue({ code: "custom", path: ["subject"], message: "give the user's DingTalk id (staffId)" });
  });
export type RuleAdd = z.input<typeof ruleAddSchema>;

export interface RuleChange {
  id: string;
  skillKey: string;
  scope: (typeof RULE_SCOPES)[number];
  subject: string;
  effect: (typeof RULE_EFFECTS)[number];
  diff: Record<string, unknown>;
  summary: string;
}

const describeRule = (r: { scope: string; subject: string; effect: string }) =>
  r.scope === "GLOBAL" ? `${r.effect} everywhere` : `${r.effect} ${r.scope.toLowerCase()} ${r.subject}`;

export async function addSkillRule(tx: Tx, input: RuleAdd): Promise<RuleChange> {
  const r = parseInput(ruleAddSchema, input);
  const skill = await tx.skill.findUnique({ where: { key: r.skillKey }, select: { key: true, retiredAt: true } });
  if (!skill) throw new DomainError("NOT_FOUND", `There is no skill "${r.skillKey}".`);
  if (skill.retiredAt) throw retired(r.skillKey);
  const existing = await tx.skillRule.findUnique({
    where: { skillKey_scope_subject: { skillKey: r.skillKey, scope: r.scope, subject: r.subject } },
  });
  if (existing) {
    throw new DomainError(
      "CONFLICT",
      existing.effect === r.effect
        ? `That rule exists already (${describeRule(existing)}).`
        : `A ${existing.effect} rule for this ${r.scope === "GLOBAL" ? "scope" : "subject"} exists; remove it first.`,
    );
  }
  // createMany + skipDuplicates: a concurrent add of the same rule is a clear conflict, not a 500.
  const { count } = await tx.skillRule.createMany({
    data: [{ skillKey: r.skillKey, scope: r.scope, subject: r.subject, effect: r.effect, note: r.note || null }],
    skipDuplicates: true,
  });
  if (count === 0) throw new DomainError("CONFLICT", "That rule was just added by someone else.");
  const row = await tx.skillRule.findUniqueOrThrow({
    where: { skillKey_scope_subject: { skillKey: r.skillKey, scope: r.scope, subject: r.subject } },
  });
  return {
    id: row.id,
    skillKey: r.skillKey,
    scope: r.scope,
    subject: r.subject,
    effect: r.effect,
    diff: { rule: { from: null, to: { scope: r.scope, subject: r.subject, effect: r.effect } } },
    summary: `Skill "${r.skillKey}": rule added (${describeRule(r)})`,
  };
}

export const ruleRemoveSchema = z.strictObject({ id: z.string().trim().min(1, { error: "id is required" }) });

export async function removeSkillRule(tx: Tx, input: z.input<typeof ruleRemoveSchema>): Promise<RuleChange> {
  const { id } = parseInput(ruleRemoveSchema, input);
  const r = await tx.skillRule.findUnique({ where: { id } });
  // deleteMany counts: a concurrent removal of the same rule is a clear "not found", not a 500.
  if (!r || (await tx.skillRule.deleteMany({ where: { id } })).count === 0) {
    throw new DomainError("NOT_FOUND", "No such rule (it may have been removed already).");
  }
  return {
    id,
    skillKey: r.skillKey,
    scope: r.scope,
    subject: r.subject,
    effect: r.effect,
    diff: { rule: { from: { scope: r.scope, subject: r.subject, effect: r.effect }, to: null } },
    summary: `Skill "${r.skillKey}": rule removed (${describeRule(r)})`,
  };
}

// --- "Can user X in conversation Y use skill Z, and why?" -----------------------------------

export const accessCheckSchema = z.strictObject({
  skillKey,
  conversationId: z
    .string()
    .trim()
    .min(1, { error: "give a conversation id" })
    .max(128, { error: "the conversation id is too long" }),
  userId: z
    .string()
    .trim()
    .min(1, { error: "give a user's DingTalk id" })
    .max(128, { error: "the user id is too long" }),
  /** Ask as if the turn had already read this skill's untrusted output (e.g. "http.fetch"). */
  afterUntrusted: z.string().trim().min(1).max(100).optional(),
});
export type AccessCheck = z.input<typeof accessCheckSchema>;

export interface AccessExplanation {
  outcome: PolicyOutcome;
  /** One sentence for an admin per reason, plus what the user would be told. */
  reasons: { code: ReasonCode; explanation: string; userSees: string }[];
  /** A plain summary of the outcome. */
  summary: string;
  /** Whether a chat turn offers the skill to the model (the runtime's `offeredToModel`). */
  offered: boolean;
  /** What happens in the chat, in words: offered or not, and what the user is told if anything. */
  inChat: string;
  /** The config revision the answer was computed at, and when. */
  revision: number;
  at: Date;
  facts: {
    conversation: { known: boolean; status: string | null; environment: string | null };
    skill: {
      known: boolean;
      enabled: boolean | null;
      riskClass: string | null;
      requiresApproval: boolean | null;
      environments: string[];
      /** Its output counts as untrusted content for the rest of a turn. */
      untrustedOutput: boolean | null;
      withdrawn: "unapproved" | "changed" | null;
    };
    safeMode: string | null;
  };
}

function explain(code: ReasonCode, c: z.output<typeof accessCheckSchema>, env: string | null): string {
  const k = `"${c.skillKey}"`;
  switch (code) {
    case "conversation.unknown":
      return `The robot has never seen conversation ${c.conversationId}: unknown conversations are denied (fail closed).`;
    case "conversation.pending":
      return `Conversation ${c.conversationId} is pending review: enable it on the Conversations page.`;
    case "conversation.disabled":
      return `Conversation ${c.conversationId} is disabled.`;
    case "safe_mode.maintenance":
      return "Safe mode is on at MAINTENANCE level: the robot answers nothing but the status message.";
    case "safe_mode.read_only":
      return `Safe mode is on at READ_ONLY level: only READ skills run, and ${k} is not one.`;
    case "safe_mode.withdrawn":
      return `A safe-mode activation withdraws ${k} (its scope names the skill or its risk class).`;
    case "kill_switch":
      return `The kill switch is on: every WRITE and DESTRUCTIVE skill is withdrawn, ${k} included.`;
    case "skill.unknown":
      return `There is no skill ${k}.`;
    case "skill.disabled":
      return `The skill ${k} is disabled.`;
    case "skill.environment":
      return `The skill ${k} is not rolled out to ${env ?? "this"} conversations (see its environments).`;
    case "rule.deny.global":
      return `A GLOBAL DENY rule blocks ${k} everywhere.`;
    case "rule.deny.conversation":
      return `A DENY rule blocks ${k} in conversation ${c.conversationId}.`;
    case "rule.deny.user":
      return `A DENY rule blocks ${k} for user ${c.userId}.`;
    case "rule.not_allowlisted.conversation":
      return `${k} has ALLOW rules for some conversations (an allowlist), and ${c.conversationId} is not on it.`;
    case "rule.not_allowlisted.user":
      return `${k} has ALLOW rules for some users (an allowlist), and ${c.userId} is not on it.`;
    case "flag.off":
      return "A feature flag this needs is off (see Feature flags).";
    case "budget.exhausted":
      return "The token budget is used up.";
    case "approval.required":
      return `${k} may run, but each call waits for an approver's grant first.`;
    case "skill.withdrawn":
      return `${k} is an outside tool that is not approved as its server describes it now: an admin enables it, or reviews its changed definition, on the Tool sources page.`;
    case "approval.untrusted_content":
      return `The turn has already read untrusted content (${c.afterUntrusted ?? "an untrusted tool's output"}), which may carry instructions the user never gave: every WRITE or DESTRUCTIVE call after it waits for an approver's grant, even where ${k} runs without one.`;
  }
}

/**
 * The runtime's answer for one skill, user and conversation, from a fresh snapshot (the same
 * loader and `decide` every replica runs). Budgets and rate limits are per request and are not
 * part of this answer.
 */
export async function explainSkillAccess(db: Db, input: AccessCheck): Promise<AccessExplanation> {
  const c = parseInput(accessCheckSchema, input);
  const snapshot = await loadPolicySnapshot(db);
  const now = snapshot.loadedAt;
  const decision = decide(
    snapshot,
    {
      conversationId: c.conversationId,
      userId: c.userId,
      now,
      ...(c.afterUntrusted ? { untrustedRead: [c.afterUntrusted] } : {}),
    },
    { kind: "skill", skillKey: c.skillKey },
  );
  const conversation = snapshot.conversations.get(c.conversationId);
  const skill = snapshot.skills.get(c.skillKey);
  const env = conversation?.environment ?? null;
  const summary =
    decision.outcome === "allow"
      ? `Yes: user ${c.userId} can use "${c.skillKey}" in ${c.conversationId}.`
      : decision.outcome === "needs_approval"
        ? `Yes, with approval: each "${c.skillKey}" call by ${c.userId} in ${c.conversationId} waits for an approver.`
        : `No: user ${c.userId} cannot use "${c.skillKey}" in ${c.conversationId}.`;
  const offered = offeredToModel(decision);
  const k = `"${c.skillKey}"`;
  const refusesMessages = decision.reasons.find((r) => MESSAGE_REASONS.has(r.code));
  const inChat = refusesMessages
    ? `The robot does not run a turn for this user here: every message is answered with "${refusesMessages.detail}"`
    : decision.outcome === "allow"
      ? `The model is offered ${k} in this user's turns here and may call it.`
      : decision.outcome === "needs_approval"
        ? `The model is offered ${k}; each call waits for an approver's grant (Approvals page) before it runs.`
        : offered
          ? `The model is still offered ${k}, so the user hears why a call is refused: "${decision.reasons[0]!.detail}"`
          : `The model is not offered ${k} in this user's turns here: the robot answers without it.`;
  return {
    outcome: decision.outcome,
    reasons: decision.reasons.map((r) => ({ code: r.code, explanation: explain(r.code, c, env), userSees: r.detail })),
    summary,
    offered,
    inChat,
    revision: snapshot.revision,
    at: now,
    facts: {
      conversation: { known: !!conversation, status: conversation?.status ?? null, environment: env },
      skill: {
        known: !!skill,
        enabled: skill?.enabled ?? null,
        riskClass: skill?.riskClass ?? null,
        requiresApproval: skill?.requiresApproval ?? null,
        environments: skill ? [...skill.environments] : [],
        untrustedOutput: skill?.untrustedOutput ?? null,
        withdrawn: skill?.withdrawn ?? null,
      },
      safeMode: effectiveSafeMode(snapshot.safeMode, now, c.conversationId),
    },
  };
}
