/**
 * The Overview's hourly rollup. Counting the last 24 hours live reads every message and skill call
 * of the window on every poll (214,000 index entries per poll at 5M messages / 20M calls, 1 s p75:
 * bench/scale). A closed hour's counts are written once, by the runtime's rollup job, and the
 * Overview reads those plus the hours not rolled yet, live.
 *
 * An hour is rolled once it has been closed for `ROLL_AFTER_MS` (an hour): by then its messages
 * have been answered (their status no longer changes) in all but a backlog. A status that changes
 * after its hour was rolled is not counted again: the Overview is a dashboard; the conversation log
 * and the audit trail hold the rows. Hours that were never rolled (the job was down) are read live,
 * so the figures are right whether or not the job ran.
 */
import type { Db, Tx } from "@clawgate/db";

const HOUR = 3_600_000;
/** The runtime's periodic job that rolls hours up (apps/bot worker/queue.ts, every 5 minutes). */
export const OVERVIEW_ROLLUP_TASK = "overview.rollup";
/** How long after its end an hour is rolled. */
export const ROLL_AFTER_MS = HOUR;
/** How far back the job looks for hours not rolled (the Overview shows 24). */
export const ROLL_LOOKBACK_HOURS = 26;

export const hourStart = (t: Date | number): Date => new Date(Math.floor(new Date(t).getTime() / HOUR) * HOUR);

/** The hours (starts) that may be rolled at `now`: closed at least ROLL_AFTER_MS ago, within the lookback. */
export function rollableHours(now: Date): Date[] {
  const last = hourStart(now.getTime() - ROLL_AFTER_MS - HOUR).getTime();
  const first = last - (ROLL_LOOKBACK_HOURS - 1) * HOUR;
  const hours: Date[] = [];
  for (let h = first; h <= last; h += HOUR) hours.push(new Date(h));
  return hours;
}

/**
 * Rolls every rollable hour not rolled yet; returns the hours rolled. One transaction per hour:
 * the marker row's primary key makes two replicas rolling at once count each hour once.
 */
export async function rollHours(db: Db, now: Date = new Date()): Promise<Date[]> {
  const candidates = rollableHours(now);
  const done = await db.hourlyRollup.findMany({
    where: { hour: { gte: candidates[0], lte: candidates.at(-1) } },
    select: { hour: true },
  });
  const rolled = new Set(done.map((r) => r.hour.getTime()));
  const out: Date[] = [];
  for (const hour of candidates) {
    if (rolled.has(hour.getTime())) continue;
    const claimed = await db.$transaction(async (tx) => rollHour(tx, hour));
    if (claimed) out.push(hour);
  }
  return out;
}

async function rollHour(tx: Tx, hour: Date): Promise<boolean> {
  const end = new Date(hour.getTime() + HOUR);
  const claimed = await tx.$executeRaw`
    INSERT INTO "HourlyRollup" (hour) VALUES (${hour}) ON CONFLICT (hour) DO NOTHING`;
  if (claimed === 0) return false;
  await tx.$executeRaw`
    INSERT INTO "HourlyStat" (hour, kind, "skillKey", status, outcome, n)
    SELECT ${hour}, 'inbound', '', status::text, '', count(*)::int
    FROM "InboundMessage" WHERE "receivedAt" >= ${hour} AND "receivedAt" < ${end}
    GROUP BY status`;
  await tx.$executeRaw`
    INSERT INTO "HourlyStat" (hour, kind, "skillKey", status, outcome, n)
    SELECT ${hour}, 'skill', "skillKey", decision::text, outcome::text, count(*)::int
    FROM "SkillInvocation" WHERE "createdAt" >= ${hour} AND "createdAt" < ${end}
    GROUP BY "skillKey", decision, outcome`;
  return true;
}

export interface HourlyCounts {
  /** Messages by hour and status. */
  inbound: { hour: Date; status: string; n: number }[];
  /** Skill calls by hour, skill, decision and outcome. */
  skills: { hour: Date; skillKey: string; decision: string; outcome: string; n: number }[];
}

/**
 * The counts of every hour from `since` on: rolled hours from the rollup, the rest live. The live
 * part starts at the first hour of the window that is not rolled (normally the last two hours).
 */
export async function hourlyCounts(db: Db | Tx, since: Date): Promise<HourlyCounts> {
  const rolledRows = await db.hourlyRollup.findMany({
    where: { hour: { gte: since } },
    select: { hour: true },
    orderBy: { hour: "asc" },
  });
  let liveFrom = since.getTime();
  for (const r of rolledRows) {
    if (r.hour.getTime() !== liveFrom) break;
    liveFrom += HOUR;
  }
  const live = new Date(liveFrom);
  const [stats, inboundLive, skillsLive] = await Promise.all([
    liveFrom > since.getTime()
      ? db.hourlyStat.findMany({ where: { hour: { gte: since, lt: live } } })
      : Promise.resolve([]),
    db.$queryRaw<{ hour: Date; status: string; n: bigint }[]>`
      SELECT date_trunc('hour', "receivedAt") AS hour, status::text AS status, count(*) AS n
      FROM "InboundMessage" WHERE "receivedAt" >= ${live} GROUP BY 1, 2`,
    db.$queryRaw<{ hour: Date; skillKey: string; decision: string; outcome: string; n: bigint }[]>`
      SELECT date_trunc('hour', "createdAt") AS hour, "skillKey", decision::text AS decision,
             outcome::text AS outcome, count(*) AS n
      FROM "SkillInvocation" WHERE "createdAt" >= ${live} GROUP BY 1, 2, 3, 4`,
  ]);
  return {
    inbound: [
      ...stats.filter((s) => s.kind === "inbound").map((s) => ({ hour: s.hour, status: s.status, n: s.n })),
      ...inboundLive.map((r) => ({ hour: r.hour, status: r.status, n: Number(r.n) })),
    ],
    skills: [
      ...stats
        .filter((s) => s.kind === "skill")
        .map((s) => ({ hour: s.hour, skillKey: s.skillKey, decision: s.status, outcome: s.outcome, n: s.n })),
      ...skillsLive.map((r) => ({ ...r, n: Number(r.n) })),
    ],
  };
}

/** Drops rollups older than the lookback (the Overview never reads them). */
export async function pruneRollups(db: Db, now: Date = new Date()): Promise<number> {
  const before = new Date(hourStart(now).getTime() - 48 * HOUR);
  return (await db.hourlyRollup.deleteMany({ where: { hour: { lt: before } } })).count;
}
