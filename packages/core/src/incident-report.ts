/**
 * The incident report: everything in an incident's window, from the database, as one timeline.
 * The console's incident page and `clawgate incident report` both render this one structure.
 *
 * Sources: the audit log (config changes, sign-ins, refusals, approvals decided in the console,
 * incident events), skill invocations and denials, approval requests and votes, dead letters, and
 * messages whose turn failed or got the fallback reply. Metadata only: no message text.
 */
import type { Db } from "@clawgate/db";
import { DomainError } from "./errors.ts";
import { settleIncidents, type IncidentListItem } from "./incidents.ts";

export const TIMELINE_KINDS = [
  "trigger",
  "config",
  "audit",
  "sign_in",
  "refused",
  "invocation",
  "denial",
  "approval",
  "decision",
  "error",
  "fallback",
] as const;
export type TimelineKind = (typeof TIMELINE_KINDS)[number];

export interface TimelineEntry {
  at: Date;
  kind: TimelineKind;
  /** Who: a console user's email, "cli:...", "dingtalk:<userId>", a runtime replica. */
  actor: string;
  summary: string;
  ref: { type: string; id: string } | null;
}

export interface IncidentReport {
  incident: Omit<IncidentListItem, "triggers"> & { review: string | null; reviewedAt: Date | null };
  window: { from: Date; to: Date };
  triggers: Array<{
    id: string;
    kind: string;
    refId: string | null;
    summary: string;
    actorName: string;
    startedAt: Date;
    endedAt: Date | null;
  }>;
  entries: TimelineEntry[];
  /** True when a source had more rows than `limitPerSource`: the report says so rather than silently cutting. */
  truncated: boolean;
}

const ORDER: Record<TimelineKind, number> = Object.fromEntries(TIMELINE_KINDS.map((k, i) => [k, i])) as Record<
  TimelineKind,
  number
>;

/** Builds the report of one incident. An open incident's window runs to `now`. */
export async function buildIncidentReport(
  db: Db,
  incidentId: string,
  opts: { now?: Date; limitPerSource?: number } = {},
): Promise<IncidentReport> {
  const now = opts.now ?? new Date();
  const limit = opts.limitPerSource ?? 5_000;
  await settleIncidents(db, now);
  const incident = await db.incident.findUnique({
    where: { id: incidentId },
    include: { triggers: { orderBy: { startedAt: "asc" } } },
  });
  if (!incident) throw new DomainError("NOT_FOUND", `No incident ${incidentId}.`);
  const from = incident.openedAt;
  const to = incident.closedAt ?? now;
  const inWindow = { gte: from, lte: to };
  const take = limit + 1;

  const [audit, invocations, requests, votes, letters, failed] = await Promise.all([
    db.auditLog.findMany({ where: { at: inWindow }, orderBy: { id: "asc" }, take }),
    db.skillInvocation.findMany({
      where: { createdAt: inWindow },
      orderBy: { createdAt: "asc" },
      take,
      select: {
        id: true,
        createdAt: true,
        userId: true,
        skillKey: true,
        decision: true,
        outcome: true,
        reasons: true,
        conversationId: true,
        latencyMs: true,
      },
    }),
    db.approvalRequest.findMany({
      where: { createdAt: inWindow },
      orderBy: { createdAt: "asc" },
      take,
      select: {
        id: true,
        createdAt: true,
        skillKey: true,
        requesterId: true,
        requesterName: true,
        riskClass: true,
        status: true,
      },
    }),
    db.approvalDecision.findMany({
      where: { createdAt: inWindow },
      orderBy: { createdAt: "asc" },
      take,
      select: {
        id: true,
        createdAt: true,
        approvalId: true,
        approve: true,
        channel: true,
        deciderName: true,
        approval: { select: { skillKey: true } },
      },
    }),
    db.deadLetter.findMany({
      where: { createdAt: inWindow },
      orderBy: { createdAt: "asc" },
      take,
      select: { id: true, createdAt: true, source: true, reason: true, conversationId: true, attempts: true },
    }),
    db.inboundMessage.findMany({
      where: { receivedAt: inWindow, OR: [{ status: "FAILED" }, { error: { not: null } }] },
      orderBy: { receivedAt: "asc" },
      take,
      select: {
        id: true,
        receivedAt: true,
        processedAt: true,
        status: true,
        error: true,
        senderId: true,
        conversationId: true,
      },
    }),
  ]);
  const truncated = [audit, invocations, requests, votes, letters, failed].some((rows) => rows.length > limit);
  const entries: TimelineEntry[] = [];

  for (const t of incident.triggers) {
    entries.push({
      at: t.startedAt,
      kind: "trigger",
      actor: t.actorName,
      summary: `${t.kind} started: ${t.summary}`,
      ref: { type: "incident_trigger", id: t.id },
    });
    if (t.endedAt && t.endedAt.getTime() <= to.getTime())
      entries.push({
        at: t.endedAt,
        kind: "trigger",
        actor: t.actorName,
        summary: `${t.kind} ended${t.refId ? ` (${t.refId})` : ""}`,
        ref: { type: "incident_trigger", id: t.id },
      });
  }
  for (const a of audit.slice(0, limit)) {
    const diff = (a.diff ?? {}) as Record<string, unknown>;
    const kind: TimelineKind =
      a.action === "auth.sign_in"
        ? "sign_in"
        : a.action === "auth.refused"
          ? "refused"
          : a.configRevision != null
            ? "config"
            : "audit";
    const detail =
      kind === "sign_in"
        ? ` (${String(diff.method ?? "unknown")})`
        : kind === "refused"
          ? ` ${String(diff.path ?? "")} as ${String(diff.role ?? "")}`
          : kind === "config"
            ? ` -> revision ${a.configRevision}`
            : "";
    entries.push({
      at: a.at,
      kind,
      actor: a.actorName,
      summary: `${a.action} ${a.targetType}${a.targetId ? ` ${a.targetId}` : ""}${detail}`,
      ref: { type: "audit", id: a.id.toString() },
    });
  }
  for (const i of invocations.slice(0, limit)) {
    const denied = i.decision === "DENY";
    const failedCall = i.outcome === "ERROR" || i.outcome === "TIMEOUT";
    entries.push({
      at: i.createdAt,
      kind: denied ? "denial" : failedCall ? "error" : "invocation",
      actor: `dingtalk:${i.userId}`,
      summary: denied
        ? `${i.skillKey} denied: ${i.reasons.join("; ") || "no reason recorded"}`
        : `${i.skillKey} ${i.decision} -> ${i.outcome}${i.latencyMs != null ? ` in ${i.latencyMs} ms` : ""}`,
      ref: { type: "invocation", id: i.id },
    });
  }
  for (const r of requests.slice(0, limit)) {
    entries.push({
      at: r.createdAt,
      kind: "approval",
      actor: r.requesterName ? `${r.requesterName} (dingtalk:${r.requesterId})` : `dingtalk:${r.requesterId}`,
      summary: `approval requested for ${r.skillKey} (${r.riskClass}), now ${r.status}`,
      ref: { type: "approval", id: r.id },
    });
  }
  for (const v of votes.slice(0, limit)) {
    entries.push({
      at: v.createdAt,
      kind: "decision",
      actor: v.deciderName,
      summary: `${v.approve ? "approved" : "rejected"} ${v.approval.skillKey} (${v.channel.toLowerCase()})`,
      ref: { type: "approval", id: v.approvalId },
    });
  }
  for (const d of letters.slice(0, limit)) {
    entries.push({
      at: d.createdAt,
      kind: "error",
      actor: "runtime",
      summary: `dead letter (${d.source}): ${d.reason}`,
      ref: { type: "dead_letter", id: d.id },
    });
  }
  for (const m of failed.slice(0, limit)) {
    const fallback = m.status !== "FAILED";
    entries.push({
      at: m.processedAt ?? m.receivedAt,
      kind: fallback ? "fallback" : "error",
      actor: `dingtalk:${m.senderId}`,
      summary: fallback ? `fallback reply: ${m.error}` : `turn failed: ${m.error ?? "no reason recorded"}`,
      ref: { type: "inbound_message", id: m.id },
    });
  }
  entries.sort((x, y) => x.at.getTime() - y.at.getTime() || ORDER[x.kind] - ORDER[y.kind]);

  return {
    incident: {
      id: incident.id,
      title: incident.title,
      status: incident.status,
      openedAt: incident.openedAt,
      openedBy: incident.openedBy,
      closedAt: incident.closedAt,
      review: incident.review,
      reviewedBy: incident.reviewedBy,
      reviewedAt: incident.reviewedAt,
    },
    window: { from, to },
    triggers: incident.triggers.map((t) => ({
      id: t.id,
      kind: t.kind,
      refId: t.refId,
      summary: t.summary,
      actorName: t.actorName,
      startedAt: t.startedAt,
      endedAt: t.endedAt,
    })),
    entries,
    truncated,
  };
}

const STATUS_TEXT = { OPEN: "Open", NEEDS_REVIEW: "Needs review", REVIEWED: "Reviewed" } as const;
export const incidentStatusText = (s: keyof typeof STATUS_TEXT) => STATUS_TEXT[s];

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

/** The report as Markdown (UTC ISO times), for `clawgate incident report --format md`. */
export function incidentReportMarkdown(r: IncidentReport): string {
  const i = r.incident;
  const lines = [
    `# Incident ${i.id}: ${i.title}`,
    "",
    `- Status: ${incidentStatusText(i.status)}`,
    `- Window: ${r.window.from.toISOString()} to ${i.closedAt ? r.window.to.toISOString() : `${r.window.to.toISOString()} (still open)`}`,
    `- Opened by: ${i.openedBy}`,
    i.status === "REVIEWED"
      ? `- Reviewed by ${i.reviewedBy} at ${i.reviewedAt?.toISOString()}: ${i.review}`
      : "- Review: none yet",
    "",
    "## Triggers",
    "",
    ...r.triggers.map(
      (t) =>
        `- ${t.kind}${t.refId ? ` (${t.refId})` : ""}: ${t.summary}; by ${t.actorName}, ${t.startedAt.toISOString()} to ${t.endedAt?.toISOString() ?? "now"}`,
    ),
    "",
    "## Timeline",
    "",
    "| time (UTC) | kind | who | what |",
    "| --- | --- | --- | --- |",
    ...r.entries.map((e) => `| ${e.at.toISOString()} | ${e.kind} | ${cell(e.actor)} | ${cell(e.summary)} |`),
  ];
  if (r.truncated) lines.push("", "Some sources had more rows than the report holds: it is cut; see the audit log.");
  return `${lines.join("\n")}\n`;
}
