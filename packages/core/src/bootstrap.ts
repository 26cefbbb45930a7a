/**
 * Bootstrap: brings the catalog in line with the code, on every `clawgate migrate` and every
 * `clawgate serve` start, so a fresh install works without any seed and a release's new skill
 * appears after the upgrade.
 *
 * - Every built-in skill exists, created with its manifest's defaults (READ enabled, WRITE enabled
 *   with approval required, DESTRUCTIVE disabled). What an admin set (enabled, approval,
 *   environments, settings, rules) is never overwritten; only the code-owned fields follow the
 *   manifest (description, risk class, timeout, cache TTL). A risk class that goes up never
 *   loosens anything: the skill keeps approval if it had it and is switched off when its new
 *   default is off.
 * - A built-in skill the code no longer ships is marked retired (kept with its history; the
 *   policy snapshot leaves it out, so it is unknown and denied). One shipped again is restored.
 * - The default feature flags and the safe-mode row exist (created only when missing).
 *
 * All of it runs in one transaction under an advisory lock, so N replicas starting at once apply
 * it once; the changes are audited as the system and bump the config revision only when
 * something changed, so a re-run is a no-op.
 */
import type { Db, Tx } from "@clawgate/db";
import { BUILTIN_SKILLS, type RiskClass, type SkillManifest } from "@clawgate/skills";
import type { Actor } from "./actor.ts";
import { diffFields, type FieldDiff } from "./diff.ts";
import { recordConfigChange } from "./revision.ts";

export const BOOTSTRAP_ACTOR: Actor = { type: "SYSTEM", name: "clawgate bootstrap" };

/** Flags the code reads, with their defaults (created when missing; an admin's value is kept). */
export const DEFAULT_FEATURE_FLAGS = [
  { key: "agent.tools", description: "Let the model call skills as tools.", enabled: true },
  { key: "replies.markdown", description: "Reply with markdown messages instead of plain text.", enabled: true },
  { key: "approvals.dingtalk_cards", description: "Let approvers decide from a DingTalk card.", enabled: false },
] as const;

const BOOTSTRAP_LOCK = 0x626f_6f74; // "boot"

export interface BootstrapChange {
  target: "skill" | "feature_flag" | "safe_mode";
  id: string;
  action: "create" | "update" | "retire" | "restore";
  diff?: FieldDiff;
}

export interface BootstrapResult {
  changes: BootstrapChange[];
  /** null when nothing changed. */
  configRevision: number | null;
}

export interface BootstrapOptions {
  /** The skills the code ships (tests pass their own list to simulate a release). */
  skills?: readonly SkillManifest[];
  actor?: Actor;
  now?: Date;
}

const RISK_ORDER: Record<RiskClass, number> = { READ: 0, WRITE: 1, DESTRUCTIVE: 2 };

/** Applies the bootstrap on the caller's transaction and returns what it changed (no audit, no revision). */
export async function bootstrapCatalogTx(tx: Tx, opts: BootstrapOptions = {}): Promise<BootstrapChange[]> {
  const manifests = opts.skills ?? BUILTIN_SKILLS;
  const now = opts.now ?? new Date();
  // Concurrent starts queue here; the later ones then find everything in place.
  await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`;
  const changes: BootstrapChange[] = [];

  const stored = new Map((await tx.skill.findMany()).map((s) => [s.key, s]));
  for (const m of manifests) {
    const codeOwned = {
      description: m.description,
      riskClass: m.riskClass,
      timeoutMs: m.timeoutMs,
      cacheTtlSeconds: m.cacheTtlSeconds,
    };
    const before = stored.get(m.key);
    if (!before) {
      const data = { ...codeOwned, enabled: m.enabledByDefault, requiresApproval: m.requiresApproval };
      changes.push({ target: "skill", id: m.key, action: "create", diff: diffFields(null, data) });
      await tx.skill.create({ data: { key: m.key, builtin: true, ...data } });
      continue;
    }
    const desired: Partial<Pick<typeof before, keyof typeof codeOwned | "enabled" | "requiresApproval">> = {
      ...codeOwned,
    };
    if (RISK_ORDER[m.riskClass] > RISK_ORDER[before.riskClass]) {
      desired.enabled = before.enabled && m.enabledByDefault;
      desired.requiresApproval = before.requiresApproval || m.requiresApproval;
    }
    const current = Object.fromEntries(Object.keys(desired).map((k) => [k, before[k as keyof typeof before]]));
    const diff = diffFields(current, desired);
    const restore = before.retiredAt !== null;
    if (Object.keys(diff).length === 0 && !restore && before.builtin) continue;
    changes.push({
      target: "skill",
      id: m.key,
      action: restore ? "restore" : "update",
      diff: restore ? { ...diff, retiredAt: { from: before.retiredAt!.toISOString(), to: null } } : diff,
    });
    await tx.skill.update({ where: { key: m.key }, data: { ...desired, builtin: true, retiredAt: null } });
  }

  const shipped = new Set(manifests.map((m) => m.key));
  for (const s of stored.values()) {
    // Only skills the code shipped are the code's to retire (outside tools are not).
    if (!s.builtin || s.retiredAt !== null || shipped.has(s.key)) continue;
    changes.push({
      target: "skill",
      id: s.key,
      action: "retire",
      diff: { retiredAt: { from: null, to: now.toISOString() } },
    });
    await tx.skill.update({ where: { key: s.key }, data: { retiredAt: now } });
  }

  const flags = new Set((await tx.featureFlag.findMany({ select: { key: true } })).map((f) => f.key));
  const missingFlags = DEFAULT_FEATURE_FLAGS.filter((f) => !flags.has(f.key));
  if (missingFlags.length > 0) {
    await tx.featureFlag.createMany({ data: [...missingFlags], skipDuplicates: true });
    for (const f of missingFlags)
      changes.push({
        target: "feature_flag",
        id: f.key,
        action: "create",
        diff: diffFields(null, { enabled: f.enabled }),
      });
  }

  if ((await tx.safeModeState.createMany({ data: [{ id: 1 }], skipDuplicates: true })).count > 0)
    changes.push({ target: "safe_mode", id: "state", action: "create" });
  return changes;
}

/** Bootstrap in its own transaction, audited with one config revision when anything changed. */
export async function bootstrapCatalog(db: Db, opts: BootstrapOptions = {}): Promise<BootstrapResult> {
  return db.$transaction(
    async (tx) => {
      const changes = await bootstrapCatalogTx(tx, opts);
      if (changes.length === 0) return { changes, configRevision: null };
      const configRevision = await recordBootstrap(tx, changes, opts.actor);
      return { changes, configRevision };
    },
    { timeout: 30_000 },
  );
}

/** The audit entry and config revision naming bootstrap's changes (call inside their transaction). */
export function recordBootstrap(tx: Tx, changes: readonly BootstrapChange[], actor = BOOTSTRAP_ACTOR) {
  return recordConfigChange(tx, {
    actor,
    action: "system.bootstrap",
    targetType: "system",
    diff: { changes },
    summary: `Bootstrap: ${summarise(changes)}`,
  });
}

/** "create skill x7, retire skill x1": the revision's summary (the audit diff lists each change). */
function summarise(changes: readonly BootstrapChange[]): string {
  const counts = new Map<string, number>();
  for (const c of changes) counts.set(`${c.action} ${c.target}`, (counts.get(`${c.action} ${c.target}`) ?? 0) + 1);
  return [...counts].map(([what, n]) => `${what} x${n}`).join(", ");
}

/** One line per change, for the CLI. */
export function describeBootstrap(changes: readonly BootstrapChange[]): string[] {
  return changes.map((c) => `${c.action} ${c.target} ${c.id}`);
}
