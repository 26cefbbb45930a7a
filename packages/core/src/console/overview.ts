/**
 * The Overview page's numbers, read in one call:
 * - safe mode (level, reason, since, expiry; an activation past its TTL counts as off),
 * - runtime replicas from their heartbeat rows, each with the config revision it has applied vs
 *   the latest one ("applied on N of M replicas"); a heartbeat older than `staleAfterMs` is offline,
 * - the last 24 hours in hourly buckets: inbound messages by status, skill calls denied or failed
 *   (closed hours from the hourly rollup, the rest live: rollup.ts),
 * - the top skills by calls, and today's token burn against each daily budget.
 */
import type { Db, Tx } from "@clawgate/db";
import type { BudgetScope, SafeModeLevel } from "@clawgate/db/enums";
import { windowStart as budgetWindowStart } from "../limits/budget.ts";
import { hourlyCounts } from "./rollup.ts";

/** The runtime beats every 10 s (apps/bot heartbeat.ts); three missed beats = offline. */
export const HEARTBEAT_STALE_MS = 30_000;
const HOUR = 3_600_000;

export interface OverviewReplica {
  id: string;
  hostname: string;
  pid: number;
  version: string;
  mode: string;
  startedAt: Date;
  heartbeatAt: Date;
  appliedRevision: number | null;
  online: boolean;
  upToDate: boolean;
}

export interface HourBucket {
  /** Start of the hour (UTC). */
  hour: Date;
  inbound: number;
  replied: number;
  denied: number;
  failed: number;
  skillCalls: number;
  skillDenied: number;
  skillErrors: number;
}

export interface Overview {
  now: Date;
  safeMode: {
    active: boolean;
    /** Safe-mode activations in force (the fields below describe the strictest, the first on ties). */
    activations: number;
    scopes: string[];
    killSwitch: boolean;
    level: SafeModeLevel;
    message: string | null;
    reason: string | null;
    since: Date | null;
    expiresAt: Date | null;
    actorName: string | null;
  };
  config: {
    latest: { revision: number; at: Date; summary: string; actorName: string } | null;
    replicas: OverviewReplica[];
    online: number;
    /** Online replicas on the latest revision. */
    upToDate: number;
  };
  last24h: { since: Date; totals: Omit<HourBucket, "hour">; hourly: HourBucket[] };
  topSkills: { skillKey: string; calls: number; denied: number; errors: number }[];
  /**
   * Budgets with a daily limit and today's usage. A DEFAULT budget is counted per conversation and
   * per user (limits/budget.ts): it shows its busiest subject (`subject`, `subjectScope`) today.
   */
  budgets: {
    scope: BudgetScope;
    subject: string;
    subjectScope: BudgetScope;
    limit: number;
    used: number;
    reserved: number;
    requests: number;
  }[];
}

/** Start of the 24 hourly buckets ending with the current hour. */
export function windowStart(now: Date): Date {
  const h = new Date(now);
  h.setUTCMinutes(0, 0, 0);
  return new Date(h.getTime() - 23 * HOUR);
}

export async function getOverview(
  db: Db | Tx,
  now = new Date(),
  opts: { staleAfterMs?: number; topSkills?: number } = {},
): Promise<Overview> {
  const staleAfterMs = opts.staleAfterMs ?? HEARTBEAT_STALE_MS;
  const since = windowStart(now);
  const today = budgetWindowStart("DAY", now);

  const [open, latest, instances, counts, budgets, usage] = await Promise.all([
    db.safeModeEvent.findMany({ where: { endedAt: null }, orderBy: { startedAt: "asc" } }),
    db.configRevision.findFirst({
      orderBy: { id: "desc" },
      select: { id: true, createdAt: true, summary: true, actorName: true },
    }),
    db.runtimeInstance.findMany({ orderBy: [{ hostname: "asc" }, { startedAt: "asc" }] }),
    hourlyCounts(db, since),
    db.tokenBudget.findMany({
      orderBy: [{ scope: "asc" }, { subject: "asc" }],
      select: { scope: true, subject: true, dailyTokens: true },
    }),
    db.usageCounter.findMany({ where: { window: "DAY", windowStart: today } }),
  ]);

  // Safe mode: an activation past its TTL already counts as off for the runtime.
  const live = open.filter((e) => !e.expiresAt || e.expiresAt > now);
  const activations = live.filter((e) => e.kind === "SAFE_MODE");
  const event = activations.find((e) => e.level === "MAINTENANCE") ?? activations[0] ?? null;
  const safeMode: Overview["safeMode"] = {
    active: !!event,
    activations: activations.length,
    scopes: event?.scopes ?? [],
    killSwitch: live.some((e) => e.kind === "KILL_SWITCH"),
    level: event?.level ?? "READ_ONLY",
    message: event?.message ?? null,
    reason: event?.reason ?? null,
    since: event?.startedAt ?? null,
    expiresAt: event?.expiresAt ?? null,
    actorName: event?.actorName ?? null,
  };

  const latestRevision = latest?.id ?? null;
  const replicas: OverviewReplica[] = instances.map((r) => {
    const online = now.getTime() - r.heartbeatAt.getTime() <= staleAfterMs;
    return { ...r, online, upToDate: online && latestRevision !== null && r.appliedRevision === latestRevision };
  });

  const hourly: HourBucket[] = Array.from({ length: 24 }, (_, i) => ({
    hour: new Date(since.getTime() + i * HOUR),
    inbound: 0,
    replied: 0,
    denied: 0,
    failed: 0,
    skillCalls: 0,
    skillDenied: 0,
    skillErrors: 0,
  }));
  const bucket = (hour: Date) => hourly[Math.floor((hour.getTime() - since.getTime()) / HOUR)];
  for (const r of counts.inbound) {
    const b = bucket(r.hour);
    if (!b) continue; // a clock ahead of ours: not in the window
    const n = r.n;
    b.inbound += n;
    if (r.status === "REPLIED") b.replied += n;
    else if (r.status === "DENIED") b.denied += n;
    else if (r.status === "FAILED") b.failed += n;
  }
  const perSkill = new Map<string, Overview["topSkills"][number]>();
  for (const r of counts.skills) {
    const b = bucket(r.hour);
    if (!b) continue;
    const n = r.n;
    const s = perSkill.get(r.skillKey) ?? { skillKey: r.skillKey, calls: 0, denied: 0, errors: 0 };
    perSkill.set(r.skillKey, s);
    s.calls += n;
    if (r.decision === "DENY") s.denied += n;
    if (r.outcome === "ERROR" || r.outcome === "TIMEOUT") s.errors += n;
    b.skillCalls += n;
    if (r.decision === "DENY") b.skillDenied += n;
    if (r.outcome === "ERROR" || r.outcome === "TIMEOUT") b.skillErrors += n;
  }
  const totals = hourly.reduce(
    (t, b) => ({
      inbound: t.inbound + b.inbound,
      replied: t.replied + b.replied,
      denied: t.denied + b.denied,
      failed: t.failed + b.failed,
      skillCalls: t.skillCalls + b.skillCalls,
      skillDenied: t.skillDenied + b.skillDenied,
      skillErrors: t.skillErrors + b.skillErrors,
    }),
    { inbound: 0, replied: 0, denied: 0, failed: 0, skillCalls: 0, skillDenied: 0, skillErrors: 0 },
  );

  return {
    now,
    safeMode,
    config: {
      latest: latest
        ? { revision: latest.id, at: latest.createdAt, summary: latest.summary, actorName: latest.actorName }
        : null,
      replicas,
      online: replicas.filter((r) => r.online).length,
      upToDate: replicas.filter((r) => r.upToDate).length,
    },
    last24h: { since, totals, hourly },
    topSkills: [...perSkill.values()]
      .sort((a, b) => b.calls - a.calls || (a.skillKey < b.skillKey ? -1 : 1))
      .slice(0, opts.topSkills ?? 5),
    budgets: budgets
      .filter((b) => b.dailyTokens !== null)
      .map((b) => {
        let u = usage.find((c) => c.scope === b.scope && c.subject === b.subject);
        if (b.scope === "DEFAULT") {
          // Subjects without a budget of their own fall back to DEFAULT: show the busiest one.
          const own = new Set(budgets.map((x) => `${x.scope}:${x.subject}`));
          u = usage
            .filter((c) => (c.scope === "CONVERSATION" || c.scope === "USER") && !own.has(`${c.scope}:${c.subject}`))
            .reduce<(typeof usage)[number] | undefined>(
              (m, c) => (!m || c.tokensUsed + c.tokensReserved > m.tokensUsed + m.tokensReserved ? c : m),
              undefined,
            );
        }
        return {
          scope: b.scope,
          subject: u && b.scope === "DEFAULT" ? u.subject : b.subject,
          subjectScope: u && b.scope === "DEFAULT" ? u.scope : b.scope,
          limit: b.dailyTokens!,
          used: Number(u?.tokensUsed ?? 0),
          reserved: Number(u?.tokensReserved ?? 0),
          requests: u?.requests ?? 0,
        };
      }),
  };
}
