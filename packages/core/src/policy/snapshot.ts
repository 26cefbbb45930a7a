/**
 * The policy snapshot: everything `decide` needs, read from the database in one consistent
 * transaction, indexed for O(1) lookups and held in memory, so no decision reads the database.
 * `buildPolicySnapshot` is pure (tests and the benchmark build snapshots without a database);
 * `loadPolicySnapshot` feeds it from one REPEATABLE READ transaction.
 */
import type { Db } from "@clawgate/db";
import { z } from "zod";

export type PolicyRiskClass = "READ" | "WRITE" | "DESTRUCTIVE";
export type PolicyEnvironment = "TEST" | "PROD";
export type PolicyRuleEffect = "ALLOW" | "DENY";
export type PolicyRuleScope = "GLOBAL" | "CONVERSATION" | "USER";
export type PolicySafeModeLevel = "READ_ONLY" | "MAINTENANCE";

/** Rules of one skill at one scope, keyed by subject; `hasAllow` marks an allowlist. */
export interface ScopedRules {
  readonly effects: ReadonlyMap<string, PolicyRuleEffect>;
  readonly hasAllow: boolean;
}

export interface SkillPolicy {
  readonly key: string;
  readonly riskClass: PolicyRiskClass;
  readonly enabled: boolean;
  readonly requiresApproval: boolean;
  readonly environments: ReadonlySet<PolicyEnvironment>;
  /** Flag that must be on (`settings.requiresFlag`); "" when the setting is malformed (never satisfied). */
  readonly requiresFlag: string | null;
  readonly globalEffect: PolicyRuleEffect | null;
  readonly conversationRules: ScopedRules;
  readonly userRules: ScopedRules;
  /** Its output is outside content: later writes in the same turn wait for an approver. */
  readonly untrustedOutput: boolean;
  /**
   * Why an outside tool (MCP, HTTP) may not be offered or called, or null: never approved by an
   * admin, or its server now describes it differently from what was approved.
   */
  readonly withdrawn: "unapproved" | "changed" | null;
}

export interface ConversationPolicy {
  readonly conversationId: string;
  readonly status: "PENDING" | "ENABLED" | "DISABLED";
  readonly environment: PolicyEnvironment;
  readonly type: "SINGLE" | "GROUP";
}

/**
 * One safe-mode activation in force (or the kill switch). Its scope: `conversations` empty means
 * every conversation; `skills` and `risks` empty means the level applies to the conversation as a
 * whole, otherwise the activation withdraws the matching skills (key OR risk class) there.
 */
export interface SafeModeActivationPolicy {
  readonly id: string;
  readonly kind: "SAFE_MODE" | "KILL_SWITCH";
  readonly level: PolicySafeModeLevel;
  readonly message: string | null;
  readonly expiresAt: Date | null;
  readonly conversations: ReadonlySet<string>;
  readonly skills: ReadonlySet<string>;
  readonly risks: ReadonlySet<PolicyRiskClass>;
}

/** The activations as the database holds them (scopes as "conversation:ID", "skill:KEY", "risk:WRITE"). */
export interface SafeModeActivationRow {
  id: string;
  kind: "SAFE_MODE" | "KILL_SWITCH";
  level: PolicySafeModeLevel;
  scopes: readonly string[];
  message: string | null;
  expiresAt: Date | null;
}

export interface PolicySnapshot {
  /** The config revision the snapshot was read at (0 before the first change). */
  readonly revision: number;
  readonly loadedAt: Date;
  readonly skills: ReadonlyMap<string, SkillPolicy>;
  readonly conversations: ReadonlyMap<string, ConversationPolicy>;
  readonly flags: ReadonlyMap<string, boolean>;
  /** Activations not ended at load time (each judged against its expiry at decision time). */
  readonly safeMode: readonly SafeModeActivationPolicy[];
}

/** Rows as the database holds them; the input of `buildPolicySnapshot`. */
export interface PolicySource {
  revision: number;
  loadedAt: Date;
  skills: ReadonlyArray<{
    key: string;
    riskClass: PolicyRiskClass;
    enabled: boolean;
    requiresApproval: boolean;
    environments: readonly PolicyEnvironment[];
    settings: unknown;
    source?: "BUILTIN" | "MCP" | "HTTP";
    untrustedOutput?: boolean;
    approvedHash?: string | null;
    pendingDefinition?: unknown;
  }>;
  rules: ReadonlyArray<{ skillKey: string; scope: PolicyRuleScope; subject: string; effect: PolicyRuleEffect }>;
  conversations: readonly ConversationPolicy[];
  flags: ReadonlyArray<{ key: string; enabled: boolean }>;
  safeMode: readonly SafeModeActivationRow[] | null;
}

const skillSettingsSchema = z.looseObject({ requiresFlag: z.string().min(1).optional() });

function requiredFlag(settings: unknown): string | null {
  if (settings === null || typeof settings !== "object" || !("requiresFlag" in settings)) return null;
  const parsed = skillSettingsSchema.safeParse(settings);
  // A malformed requirement must not silently drop the gate: "" names no flag, so it stays off.
  return parsed.success ? (parsed.data.requiresFlag ?? null) : "";
}

const RISKS: ReadonlySet<string> = new Set(["READ", "WRITE", "DESTRUCTIVE"]);

/** Splits scope strings into their sets; unknown forms are ignored here (core refuses them on write). */
export function splitSafeModeScopes(scopes: readonly string[]) {
  const conversations = new Set<string>();
  const skills = new Set<string>();
  const risks = new Set<PolicyRiskClass>();
  for (const scope of scopes) {
    const i = scope.indexOf(":");
    const [type, value] = i < 0 ? [scope, ""] : [scope.slice(0, i), scope.slice(i + 1)];
    if (type === "conversation" && value) conversations.add(value);
    else if (type === "skill" && value) skills.add(value);
    else if (type === "risk" && RISKS.has(value)) risks.add(value as PolicyRiskClass);
  }
  return { conversations, skills, risks };
}

export function activationPolicy(row: SafeModeActivationRow): SafeModeActivationPolicy {
  return Object.freeze({
    id: row.id,
    kind: row.kind,
    level: row.level,
    message: row.message,
    expiresAt: row.expiresAt,
    ...splitSafeModeScopes(row.kind === "KILL_SWITCH" ? ["risk:WRITE", "risk:DESTRUCTIVE"] : row.scopes),
  });
}

const inForce = (a: SafeModeActivationPolicy, now: Date | number) =>
  a.expiresAt === null || a.expiresAt.getTime() > +now;
const inConversation = (a: SafeModeActivationPolicy, conversationId: string | undefined) =>
  a.conversations.size === 0 || (conversationId !== undefined && a.conversations.has(conversationId));
const targetsSkills = (a: SafeModeActivationPolicy) => a.skills.size > 0 || a.risks.size > 0;

/** The activations in force at `now` (an activation past its expiry counts as ended). */
export function activationsInForce(
  safeMode: readonly SafeModeActivationPolicy[],
  now: Date | number,
): SafeModeActivationPolicy[] {
  return safeMode.filter((a) => inForce(a, now));
}

/** The earliest expiry still ahead of `now` (the runtime re-evaluates then), or null. */
export function nextSafeModeExpiry(safeMode: readonly SafeModeActivationPolicy[], now: Date | number): Date | null {
  let next: Date | null = null;
  for (const a of safeMode)
    if (a.expiresAt && a.expiresAt.getTime() > +now && (!next || a.expiresAt < next)) next = a.expiresAt;
  return next;
}

/**
 * The strictest safe mode that applies to a conversation as a whole at `now` (MAINTENANCE over
 * READ_ONLY): activations of scope "everything" or naming the conversation, without skill targets.
 */
export function conversationSafeMode(
  safeMode: readonly SafeModeActivationPolicy[],
  now: Date | number,
  conversationId?: string,
): SafeModeActivationPolicy | null {
  let strictest: SafeModeActivationPolicy | null = null;
  for (const a of safeMode) {
    if (a.kind !== "SAFE_MODE" || !inForce(a, now) || targetsSkills(a) || !inConversation(a, conversationId)) continue;
    if (!strictest || (a.level === "MAINTENANCE" && strictest.level !== "MAINTENANCE")) strictest = a;
  }
  return strictest;
}

/** The activation that withdraws `skill` in the conversation at `now` (the kill switch first), or null. */
export function skillWithdrawal(
  safeMode: readonly SafeModeActivationPolicy[],
  now: Date | number,
  skill: { key: string; riskClass: PolicyRiskClass },
  conversationId?: string,
): SafeModeActivationPolicy | null {
  let found: SafeModeActivationPolicy | null = null;
  for (const a of safeMode) {
    if (!inForce(a, now) || !targetsSkills(a) || !inConversation(a, conversationId)) continue;
    if (!a.skills.has(skill.key) && !a.risks.has(skill.riskClass)) continue;
    if (a.kind === "KILL_SWITCH") return a;
    found ??= a;
  }
  return found;
}

/**
 * The strictest level in force at `now` for the conversation (any scope), or null: what logs and
 * the console show. Without a conversation: activations of every conversation count.
 */
export function effectiveSafeMode(
  safeMode: readonly SafeModeActivationPolicy[],
  now: Date | number,
  conversationId?: string,
): PolicySafeModeLevel | null {
  let level: PolicySafeModeLevel | null = null;
  for (const a of safeMode) {
    if (a.kind !== "SAFE_MODE" || !inForce(a, now)) continue;
    if (conversationId !== undefined && !inConversation(a, conversationId)) continue;
    if (a.level === "MAINTENANCE") return "MAINTENANCE";
    level = "READ_ONLY";
  }
  return level;
}

/** Outside tools are callable only as an admin approved them (fail closed): see SkillPolicy.withdrawn. */
function withdrawnState(s: PolicySource["skills"][number]): SkillPolicy["withdrawn"] {
  if (s.source === undefined || s.source === "BUILTIN") return null;
  if (!s.approvedHash) return "unapproved";
  return s.pendingDefinition !== null && s.pendingDefinition !== undefined ? "changed" : null;
}

interface MutableSkillRules {
  global: PolicyRuleEffect | null;
  conversation: Map<string, PolicyRuleEffect>;
  user: Map<string, PolicyRuleEffect>;
}

export function buildPolicySnapshot(source: PolicySource): PolicySnapshot {
  const rulesBySkill = new Map<string, MutableSkillRules>();
  for (const rule of source.rules) {
    let r = rulesBySkill.get(rule.skillKey);
    if (!r) rulesBySkill.set(rule.skillKey, (r = { global: null, conversation: new Map(), user: new Map() }));
    if (rule.scope === "GLOBAL") r.global = r.global === "DENY" ? "DENY" : rule.effect;
    else {
      const map = rule.scope === "CONVERSATION" ? r.conversation : r.user;
      if (map.get(rule.subject) !== "DENY") map.set(rule.subject, rule.effect);
    }
  }
  const scoped = (m: Map<string, PolicyRuleEffect> | undefined): ScopedRules =>
    Object.freeze({ effects: m ?? new Map(), hasAllow: m ? [...m.values()].includes("ALLOW") : false });

  const skills = new Map<string, SkillPolicy>();
  for (const s of source.skills) {
    const r = rulesBySkill.get(s.key);
    skills.set(
      s.key,
      Object.freeze({
        key: s.key,
        riskClass: s.riskClass,
        enabled: s.enabled,
        requiresApproval: s.requiresApproval,
        environments: new Set(s.environments),
        requiresFlag: requiredFlag(s.settings),
        globalEffect: r?.global ?? null,
        conversationRules: scoped(r?.conversation),
        userRules: scoped(r?.user),
        untrustedOutput: s.untrustedOutput ?? false,
        withdrawn: withdrawnState(s),
      }),
    );
  }
  return Object.freeze({
    revision: source.revision,
    loadedAt: source.loadedAt,
    skills,
    conversations: new Map(source.conversations.map((c) => [c.conversationId, Object.freeze({ ...c })])),
    flags: new Map(source.flags.map((f) => [f.key, f.enabled])),
    safeMode: Object.freeze((source.safeMode ?? []).map(activationPolicy)),
  });
}

/**
 * Reads the whole policy in one REPEATABLE READ transaction, so the rows and the revision
 * they are stamped with come from the same database snapshot.
 */
export async function loadPolicySnapshot(db: Db): Promise<PolicySnapshot> {
  const source = await db.$transaction(
    async (tx): Promise<PolicySource> => {
      // The first statement fixes the transaction's snapshot; later reads see the same state.
      const latest = await tx.configRevision.findFirst({ orderBy: { id: "desc" }, select: { id: true } });
      // A retired skill (no longer shipped) is left out: unknown to decide, never offered.
      const skills = await tx.skill.findMany({
        where: { retiredAt: null },
        select: {
          key: true,
          riskClass: true,
          enabled: true,
          requiresApproval: true,
          environments: true,
          settings: true,
          source: true,
          untrustedOutput: true,
          approvedHash: true,
          pendingDefinition: true,
        },
      });
      // Big tables as a few JSON texts: subjects grouped per skill, scope and effect, and the
      // conversations as one array. 500,000 rules read as 500,000 Prisma rows took longer than
      // the transaction's timeout on a busy machine; JSON.parse is native (bench/scale).
      const groups = await tx.$queryRaw<
        { skillKey: string; scope: PolicyRuleScope; effect: PolicyRuleEffect; subjects: string }[]
      >`SELECT "skillKey", scope::text AS scope, effect::text AS effect, json_agg(subject)::text AS subjects
        FROM "SkillRule" GROUP BY 1, 2, 3`;
      const rules = groups.flatMap((g) =>
        (JSON.parse(g.subjects) as string[]).map((subject) => ({
          skillKey: g.skillKey,
          scope: g.scope,
          subject,
          effect: g.effect,
        })),
      );
      const [convRow] = await tx.$queryRaw<[{ conversations: string | null }]>`
        SELECT json_agg(json_build_array("conversationId", status, environment, type))::text AS conversations
        FROM "Conversation"`;
      const conversations = (
        JSON.parse(convRow.conversations ?? "[]") as [
          string,
          ConversationPolicy["status"],
          PolicyEnvironment,
          ConversationPolicy["type"],
        ][]
      ).map(([conversationId, status, environment, type]) => ({ conversationId, status, environment, type }));
      const flags = await tx.featureFlag.findMany({ select: { key: true, enabled: true } });
      const activations = await tx.safeModeEvent.findMany({
        where: { endedAt: null },
        select: { id: true, kind: true, level: true, scopes: true, message: true, expiresAt: true },
        orderBy: { startedAt: "asc" },
      });
      const now = await tx.$queryRaw<[{ now: Date }]>`SELECT now() AS now`;
      return {
        revision: latest?.id ?? 0,
        loadedAt: now[0].now,
        skills,
        rules,
        conversations,
        flags,
        safeMode: activations,
      };
    },
    // Prisma's default 5 s would fail a reload of a big policy on a busy machine outright.
    { isolationLevel: "RepeatableRead", timeout: 30_000 },
  );
  return buildPolicySnapshot(source);
}
