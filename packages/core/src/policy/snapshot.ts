/**
 * The policy snapshot: everything `decide` needs, read from the database in one consistent
 * transaction, indexed for O(1) lookups and held in memory, so no decision reads the database.
 * `buildPolicySnapshot` is pure (tests and the benchmark build snapshots without a database);
 * `loadPolicySnapshot` feeds it from one REPEATABLE READ transaction.
 *
 * Rules are the big part (500,000 rules took 3.5-5 s to read and index: bench/scale), so a reload
 * given the previous snapshot reads only the rules that changed since it: a trigger logs the key
 * of every rule written or deleted to "PolicyChange" with its transaction id, and the reload asks
 * for the keys written by transactions the previous read could not see (xid >= that read's
 * snapshot xmin; a key seen twice is re-read twice, which is harmless), re-reads those keys'
 * current rows, and shares every unchanged skill's rule maps with the previous snapshot. The xmin
 * is the whole cluster's: a long transaction anywhere holds it back, and the reload re-reads the
 * keys written since that transaction began (more work, never a missed change).
 */
import type { Db, Tx } from "@clawgate/db";
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

/** One skill's rules, indexed (shared between snapshots while its rules do not change). */
export interface RuleSet {
  readonly globalEffect: PolicyRuleEffect | null;
  readonly conversationRules: ScopedRules;
  readonly userRules: ScopedRules;
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
  /** Every skill key's rules (retired skills' too: a skill brought back finds them). */
  readonly ruleSets: ReadonlyMap<string, RuleSet>;
  /** Where the next incremental reload starts (loadPolicySnapshot): the read's snapshot xmin (xid8 as text). */
  readonly readXmin?: string;
}

/** A rule as the database holds it. */
export interface RuleRow {
  skillKey: string;
  scope: PolicyRuleScope;
  subject: string;
  effect: PolicyRuleEffect;
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
  /** Every rule; or, with `ruleSets`, nothing (the rules are already indexed). */
  rules: readonly RuleRow[];
  /** Rules already indexed (an incremental reload); `rules` is ignored when given. */
  ruleSets?: ReadonlyMap<string, RuleSet>;
  readXmin?: string;
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

const scoped = (m: Map<string, PolicyRuleEffect> | undefined): ScopedRules =>
  Object.freeze({ effects: m ?? new Map(), hasAllow: m ? [...m.values()].includes("ALLOW") : false });

const NO_RULES: RuleSet = Object.freeze({
  globalEffect: null,
  conversationRules: scoped(undefined),
  userRules: scoped(undefined),
});

/** Indexes rules per skill; of two rules on one subject (possible only in a built source), DENY wins. */
export function buildRuleSets(rules: readonly RuleRow[]): Map<string, RuleSet> {
  const bySkill = new Map<
    string,
    {
      global: PolicyRuleEffect | null;
      conversation: Map<string, PolicyRuleEffect>;
      user: Map<string, PolicyRuleEffect>;
    }
  >();
  for (const rule of rules) {
    let r = bySkill.get(rule.skillKey);
    if (!r) bySkill.set(rule.skillKey, (r = { global: null, conversation: new Map(), user: new Map() }));
    if (rule.scope === "GLOBAL") r.global = r.global === "DENY" ? "DENY" : rule.effect;
    else {
      const map = rule.scope === "CONVERSATION" ? r.conversation : r.user;
      if (map.get(rule.subject) !== "DENY") map.set(rule.subject, rule.effect);
    }
  }
  return new Map(
    [...bySkill].map(([key, r]) => [
      key,
      Object.freeze({ globalEffect: r.global, conversationRules: scoped(r.conversation), userRules: scoped(r.user) }),
    ]),
  );
}

/**
 * The rule sets after `changed` keys were written: each changed key takes its row in `current`
 * (the rows of those keys now), or goes when it has none. Skills without a changed key keep their
 * rule set (the same object); a changed skill's maps are copied, never edited in place.
 */
export function applyRuleChanges(
  previous: ReadonlyMap<string, RuleSet>,
  changed: ReadonlyArray<Pick<RuleRow, "skillKey" | "scope" | "subject">>,
  current: readonly RuleRow[],
): Map<string, RuleSet> {
  const now = new Map(current.map((r) => [`${r.skillKey}\u0000${r.scope}\u0000${r.subject}`, r.effect]));
  const bySkill = new Map<string, Pick<RuleRow, "scope" | "subject">[]>();
  for (const c of changed) {
    const list = bySkill.get(c.skillKey) ?? [];
    list.push(c);
    bySkill.set(c.skillKey, list);
  }
  const next = new Map(previous);
  for (const [skillKey, keys] of bySkill) {
    const before = previous.get(skillKey) ?? NO_RULES;
    let globalEffect = before.globalEffect;
    let conversation: Map<string, PolicyRuleEffect> | null = null;
    let user: Map<string, PolicyRuleEffect> | null = null;
    for (const k of keys) {
      const effect = now.get(`${skillKey}\u0000${k.scope}\u0000${k.subject}`);
      if (k.scope === "GLOBAL") {
        globalEffect = effect ?? null;
        continue;
      }
      const map =
        k.scope === "CONVERSATION"
          ? (conversation ??= new Map(before.conversationRules.effects))
          : (user ??= new Map(before.userRules.effects));
      if (effect === undefined) map.delete(k.subject);
      else map.set(k.subject, effect);
    }
    const set: RuleSet = Object.freeze({
      globalEffect,
      conversationRules: conversation ? scoped(conversation) : before.conversationRules,
      userRules: user ? scoped(user) : before.userRules,
    });
    if (set.globalEffect === null && set.conversationRules.effects.size === 0 && set.userRules.effects.size === 0)
      next.delete(skillKey);
    else next.set(skillKey, set);
  }
  return next;
}

export function buildPolicySnapshot(source: PolicySource): PolicySnapshot {
  const ruleSets = source.ruleSets ?? buildRuleSets(source.rules);
  const skills = new Map<string, SkillPolicy>();
  for (const s of source.skills) {
    const r = ruleSets.get(s.key) ?? NO_RULES;
    skills.set(
      s.key,
      Object.freeze({
        key: s.key,
        riskClass: s.riskClass,
        enabled: s.enabled,
        requiresApproval: s.requiresApproval,
        environments: new Set(s.environments),
        requiresFlag: requiredFlag(s.settings),
        globalEffect: r.globalEffect,
        conversationRules: r.conversationRules,
        userRules: r.userRules,
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
    ruleSets,
    ...(source.readXmin !== undefined ? { readXmin: source.readXmin } : {}),
  });
}

/** A previous snapshot older than this is not reloaded incrementally (the change log keeps an hour). */
export const INCREMENTAL_MAX_AGE_MS = 30 * 60_000;

/** More changed rule keys than this since the previous read: read every rule instead. */
export const MAX_INCREMENTAL_RULE_CHANGES = 20_000;

/**
 * Reads the policy in one REPEATABLE READ transaction, so the rows and the revision they are
 * stamped with come from the same database snapshot. Given the `previous` snapshot (the store's
 * current one), rules are read incrementally (see the top of this file).
 */
export async function loadPolicySnapshot(db: Db, previous?: PolicySnapshot): Promise<PolicySnapshot> {
  const source = await db.$transaction(
    async (tx): Promise<PolicySource> => {
      // The first statement fixes the transaction's snapshot; later reads see the same state.
      const latest = await tx.configRevision.findFirst({ orderBy: { id: "desc" }, select: { id: true } });
      // Transactions below this xmin had ended when the snapshot was taken: their writes are in it.
      const [{ xmin: readXmin }] = await tx.$queryRaw<[{ xmin: string }]>`
        SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`;
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
      // The change log keeps an hour (pruneRuleChanges): an older previous read starts over.
      const recent = previous !== undefined && Date.now() - previous.loadedAt.getTime() < INCREMENTAL_MAX_AGE_MS;
      const ruleSets = recent && previous.readXmin !== undefined ? await changedRules(tx, previous) : undefined;
      // Big tables as a few JSON texts: subjects grouped per skill, scope and effect, and the
      // conversations as one array. 500,000 rules read as 500,000 Prisma rows took longer than
      // the transaction's timeout on a busy machine; JSON.parse is native (bench/scale).
      const rules = ruleSets ? [] : await allRules(tx);
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
        ...(ruleSets ? { ruleSets } : {}),
        readXmin,
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

async function allRules(tx: Tx): Promise<RuleRow[]> {
  const groups = await tx.$queryRaw<
    { skillKey: string; scope: PolicyRuleScope; effect: PolicyRuleEffect; subjects: string }[]
  >`
    SELECT "skillKey", scope::text AS scope, effect::text AS effect, json_agg(subject)::text AS subjects
    FROM "SkillRule" GROUP BY 1, 2, 3`;
  return groups.flatMap((g) =>
    (JSON.parse(g.subjects) as string[]).map((subject) => ({
      skillKey: g.skillKey,
      scope: g.scope,
      subject,
      effect: g.effect,
    })),
  );
}

/**
 * The previous snapshot's rule sets with the rules written since its read applied, or undefined
 * (read everything) when too many changed.
 */
async function changedRules(tx: Tx, previous: PolicySnapshot): Promise<ReadonlyMap<string, RuleSet> | undefined> {
  const changed = await tx.$queryRaw<Pick<RuleRow, "skillKey" | "scope" | "subject">[]>`
    SELECT DISTINCT "skillKey", scope, subject FROM "PolicyChange"
    WHERE xid >= ${previous.readXmin}::xid8 LIMIT ${MAX_INCREMENTAL_RULE_CHANGES + 1}`;
  // Too many to be worth it, or a TRUNCATE (logged as scope '*'): read every rule.
  if (changed.length > MAX_INCREMENTAL_RULE_CHANGES || changed.some((c) => (c.scope as string) === "*"))
    return undefined;
  if (changed.length === 0) return previous.ruleSets;
  const current = await tx.$queryRaw<RuleRow[]>`
    SELECT r."skillKey", r.scope::text AS scope, r.subject, r.effect::text AS effect
    FROM "SkillRule" r
    JOIN unnest(${changed.map((c) => c.skillKey)}::text[], ${changed.map((c) => c.scope)}::text[],
                ${changed.map((c) => c.subject)}::text[]) AS c(k, s, subject)
      ON r."skillKey" = c.k AND r.scope::text = c.s AND r.subject = c.subject`;
  return applyRuleChanges(previous.ruleSets, changed, current);
}

/** The runtime's periodic job that prunes the rule-change log (apps/bot worker/queue.ts). */
export const POLICY_CHANGES_GC_TASK = "policy.changes.gc";

/** Drops rule-change log rows older than an hour (a reload older than 30 minutes reads everything). */
export async function pruneRuleChanges(db: Db): Promise<number> {
  return db.$executeRaw`DELETE FROM "PolicyChange" WHERE at < clock_timestamp() - interval '1 hour'`;
}
