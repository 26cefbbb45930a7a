/**
 * Incidents. Every safe-mode activation, kill switch, break-glass sign-in and opened breaker is a
 * trigger: it opens an incident, or joins the one still OPEN. The incident's window runs from its
 * first trigger to the end of its last; when the last trigger ends it NEEDS_REVIEW until someone
 * records a review (who, what was learned). Retention keeps every row inside the window of an
 * incident that is not REVIEWED (`unreviewedIncidentWindows`).
 *
 * Callers pass their own transaction, so the trigger lands with the change that caused it.
 */
import type { Db, Tx } from "@clawgate/db";
import { z } from "zod";
import type { Actor } from "./actor.ts";
import { appendAudit } from "./audit.ts";
import { DomainError } from "./errors.ts";

export const INCIDENT_TRIGGER_KINDS = ["safe_mode", "kill_switch", "break_glass", "breaker"] as const;
export type IncidentTriggerKind = (typeof INCIDENT_TRIGGER_KINDS)[number];

const INCIDENT_LOCK = 0x696e_6364; // "incd": one opener at a time, so two triggers never open two incidents

export interface IncidentTriggerInput {
  kind: IncidentTriggerKind;
  /** What the trigger refers to: the safe-mode activation, the break-glass grant, the breaker's name. */
  refId?: string | null;
  /** One line for people: "Safe mode READ_ONLY on conversation cid…: DB migration". */
  summary: string;
  actor: Actor;
  at?: Date;
  /** When the trigger ends by itself (a break-glass grant at its TTL); null: ended by `endIncidentTrigger`. */
  endsAt?: Date | null;
}

export interface IncidentTriggerResult {
  incidentId: string;
  triggerId: string;
  /** True when this trigger opened the incident, false when it joined an open one. */
  opened: boolean;
  /** True when the same trigger (kind and refId) was already in force: nothing was written. */
  duplicate: boolean;
}

/** Opens an incident for the trigger, or joins the incident still OPEN. Audited ("incident.open" / "incident.join"). */
export async function openOrJoinIncident(tx: Tx, input: IncidentTriggerInput): Promise<IncidentTriggerResult> {
  const at = input.at ?? new Date();
  await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${INCIDENT_LOCK})`;
  await closeEndedIncidents(tx, at);
  // The same trigger still in force (a breaker every replica sees open) is recorded once.
  if (input.refId != null) {
    const same = await tx.incidentTrigger.findFirst({
      where: { kind: input.kind, refId: input.refId, endedAt: null, incident: { status: "OPEN" } },
      select: { id: true, incidentId: true },
    });
    if (same) return { incidentId: same.incidentId, triggerId: same.id, opened: false, duplicate: true };
  }
  const open = await tx.incident.findFirst({ where: { status: "OPEN" }, orderBy: { openedAt: "desc" } });
  const incidentId =
    open?.id ??
    (
      await tx.incident.create({
        data: { title: input.summary.slice(0, 200), openedAt: at, openedBy: input.actor.name },
        select: { id: true },
      })
    ).id;
  const trigger = await tx.incidentTrigger.create({
    data: {
      incidentId,
      kind: input.kind,
      refId: input.refId ?? null,
      summary: input.summary,
      actorName: input.actor.name,
      startedAt: at,
      endedAt: input.endsAt ?? null,
    },
    select: { id: true },
  });
  await appendAudit(tx, {
    actor: input.actor,
    action: open ? "incident.join" : "incident.open",
    targetType: "incident",
    targetId: incidentId,
    diff: { trigger: input.kind, refId: input.refId ?? null, summary: input.summary },
  });
  return { incidentId, triggerId: trigger.id, opened: !open, duplicate: false };
}

/**
 * Ends the open triggers of `kind` (and `refId`, when given) at `at`. An incident whose triggers
 * have all ended moves to NEEDS_REVIEW, its window closed at the last end. Returns the incidents touched.
 */
export async function endIncidentTrigger(
  tx: Tx,
  match: { kind: IncidentTriggerKind; refId?: string | null },
  at: Date = new Date(),
): Promise<string[]> {
  await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${INCIDENT_LOCK})`;
  const triggers = await tx.incidentTrigger.findMany({
    where: { kind: match.kind, ...(match.refId != null ? { refId: match.refId } : {}), endedAt: null },
    select: { id: true, incidentId: true },
  });
  if (triggers.length > 0) {
    await tx.incidentTrigger.updateMany({ where: { id: { in: triggers.map((t) => t.id) } }, data: { endedAt: at } });
  }
  const touched = [...new Set(triggers.map((t) => t.incidentId))];
  await closeEndedIncidents(tx, at);
  return touched;
}

/**
 * OPEN incidents whose every trigger has ended (or ended by itself before `now`, like a break-glass
 * grant at its TTL) move to NEEDS_REVIEW. Readers that list incidents call this first (a periodic
 * sweep does too), so the status never lags the clock.
 */
export async function settleIncidents(db: Db, now: Date = new Date()): Promise<void> {
  await db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${INCIDENT_LOCK})`;
    await closeEndedIncidents(tx, now);
  });
}

async function closeEndedIncidents(tx: Tx, now: Date): Promise<void> {
  const open = await tx.incident.findMany({
    where: { status: "OPEN" },
    select: { id: true, triggers: { select: { endedAt: true } } },
  });
  for (const incident of open) {
    const ends = incident.triggers.map((t) => t.endedAt);
    if (ends.length === 0 || ends.some((e) => e === null || e.getTime() > now.getTime())) continue;
    const closedAt = new Date(Math.max(...ends.map((e) => e!.getTime())));
    await tx.incident.update({ where: { id: incident.id }, data: { status: "NEEDS_REVIEW", closedAt } });
  }
}

export const incidentReviewSchema = z.object({
  review: z
    .string({ error: "a review is required" })
    .trim()
    .min(1, "a review is required: say what happened and what was learned")
    .max(10_000, "the review is too long (10,000 characters at most)"),
});

/** Records the review of an incident whose triggers have all ended. Audited ("incident.review"). */
export async function reviewIncident(
  db: Db,
  actor: Actor,
  incidentId: string,
  input: z.input<typeof incidentReviewSchema>,
  now: Date = new Date(),
): Promise<{ id: string; status: "REVIEWED" }> {
  const parsed = incidentReviewSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => i.message);
    throw new DomainError("BAD_REQUEST", problems.join("; "), { problems });
  }
  return db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${INCIDENT_LOCK})`;
    await closeEndedIncidents(tx, now);
    const incident = await tx.incident.findUnique({ where: { id: incidentId } });
    if (!incident) throw new DomainError("NOT_FOUND", `No incident ${incidentId}.`);
    if (incident.status === "OPEN")
      throw new DomainError("CONFLICT", "The incident is still open: end its safe mode, kill switch or grant first.", {
        reason: "still_open",
      });
    if (incident.status === "REVIEWED")
      throw new DomainError("CONFLICT", `The incident was already reviewed by ${incident.reviewedBy}.`, {
        reason: "already_reviewed",
      });
    await tx.incident.update({
      where: { id: incidentId },
      data: { status: "REVIEWED", review: parsed.data.review, reviewedBy: actor.name, reviewedAt: now },
    });
    await appendAudit(tx, {
      actor,
      action: "incident.review",
      targetType: "incident",
      targetId: incidentId,
      diff: { status: { from: incident.status, to: "REVIEWED" } },
    });
    return { id: incidentId, status: "REVIEWED" as const };
  });
}

/**
 * The windows retention must keep: [from, to] of every incident not REVIEWED (an open one runs to
 * now). A purge skips rows whose time falls inside any of them.
 */
export async function unreviewedIncidentWindows(
  db: Db | Tx,
  now: Date = new Date(),
): Promise<Array<{ id: string; from: Date; to: Date }>> {
  const rows = await db.incident.findMany({
    where: { status: { not: "REVIEWED" } },
    select: { id: true, openedAt: true, closedAt: true },
    orderBy: { openedAt: "asc" },
  });
  return rows.map((r) => ({ id: r.id, from: r.openedAt, to: r.closedAt ?? now }));
}

export interface IncidentListItem {
  id: string;
  title: string;
  status: "OPEN" | "NEEDS_REVIEW" | "REVIEWED";
  openedAt: Date;
  openedBy: string;
  closedAt: Date | null;
  reviewedBy: string | null;
  triggers: Array<{ kind: string; summary: string; startedAt: Date; endedAt: Date | null }>;
}

/** Incidents, newest first (settled first, so a status never lags the clock). */
export async function listIncidents(
  db: Db,
  opts: { status?: "OPEN" | "NEEDS_REVIEW" | "REVIEWED" | "UNREVIEWED"; limit?: number; now?: Date } = {},
): Promise<IncidentListItem[]> {
  await settleIncidents(db, opts.now ?? new Date());
  const status = opts.status === "UNREVIEWED" ? { not: "REVIEWED" as const } : opts.status ? opts.status : undefined;
  return db.incident.findMany({
    where: status ? { status } : {},
    orderBy: { openedAt: "desc" },
    take: opts.limit ?? 200,
    select: {
      id: true,
      title: true,
      status: true,
      openedAt: true,
      openedBy: true,
      closedAt: true,
      reviewedBy: true,
      triggers: {
        select: { kind: true, summary: true, startedAt: true, endedAt: true },
        orderBy: { startedAt: "asc" },
      },
    },
  });
}
