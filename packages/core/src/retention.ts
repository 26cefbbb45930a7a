/**
 * Retention: how long each kind of data is kept, and the purge that deletes what is older.
 *
 * - The periods are the onboarding file's `retention` section (ConfigSection "retention", days
 *   per kind, null = keep forever), set by `clawgate onboard` or the console's Retention page;
 *   kinds left out take RETENTION_DEFAULTS.
 * - The purge deletes in batches (one transaction each) and never a row inside the window of an
 *   incident that is not reviewed yet (`unreviewedIncidentWindows`).
 * - Audit rows go only as the oldest prefix of the chain (so it stays one chain), up to the first
 *   row inside an unreviewed incident's window, and each batch writes a signed checkpoint of its
 *   last row in the same transaction: the trigger refuses any other delete (migration
 *   20261204163000_audit_checkpoints) and `verifyAudit` starts from the newest checkpoint.
 * - A run that deleted something is audited once ("retention.purge", the counts per kind).
 */
import type { Db, Prisma, Tx } from "@clawgate/db";
import { z } from "zod";
import type { Actor } from "./actor.ts";
import { AUDIT_CHAIN_LOCK, AUDIT_SIGNING_KEY_MIN, appendAudit, signCheckpoint } from "./audit.ts";
import { unreviewedIncidentWindows } from "./incidents.ts";

export const RETENTION_KINDS = ["messages", "memory", "invocations", "outbound", "audit"] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];
/** Days per kind; null keeps forever. */
export type RetentionPeriods = Record<RetentionKind, number | null>;

export const RETENTION_DEFAULTS: RetentionPeriods = {
  messages: 90, // inbound messages (with their turn steps) and dead letters
  memory: 90, // conversation memory not updated for this long
  invocations: 180, // skill invocations and decided approval requests
  outbound: 90, // replies sent (or given up on)
  audit: 400,
};

/** What each kind deletes, for people (the console and the CLI say it). */
export const RETENTION_KIND_NOTES: Record<RetentionKind, string> = {
  messages: "inbound messages with their turn steps, and dead letters",
  memory: "conversation memory not updated for this long",
  invocations: "skill invocation records and decided approval requests",
  outbound: "replies sent or given up on",
  audit: "audit log rows (a signed checkpoint keeps the chain verifiable)",
};

const days = z
  .number({ error: "must be a whole number of days, or null to keep forever" })
  .int({ error: "must be a whole number of days" })
  .min(1, { error: "must be at least 1 day" })
  .max(36_500, { error: "must be at most 36500 days (100 years)" })
  .nullable();

/** The YAML section (days per kind; a kind left out keeps its default). */
export const retentionSectionSchema = z.strictObject(
  Object.fromEntries(RETENTION_KINDS.map((k) => [k, days.optional()])) as Record<
    RetentionKind,
    z.ZodOptional<typeof days>
  >,
);
export type RetentionSection = z.output<typeof retentionSectionSchema>;

/** The console's save: every kind given. */
export const retentionSetSchema = z.strictObject(
  Object.fromEntries(RETENTION_KINDS.map((k) => [k, days])) as Record<RetentionKind, typeof days>,
);

export const RETENTION_SECTION_KEY = "retention";

/** The periods in force: the stored section over the defaults. */
export async function readRetention(db: Db | Tx): Promise<RetentionPeriods> {
  const row = await db.configSection.findUnique({ where: { key: RETENTION_SECTION_KEY } });
  const parsed = retentionSectionSchema.safeParse(row?.value ?? {});
  const stored = parsed.success ? parsed.data : {};
  return Object.fromEntries(
    RETENTION_KINDS.map((k) => [k, stored[k] === undefined ? RETENTION_DEFAULTS[k] : stored[k]]),
  ) as RetentionPeriods;
}

/** Sets every period (console). Returns the diff (empty when nothing changed) and a summary. */
export async function setRetention(
  tx: Tx,
  input: z.input<typeof retentionSetSchema>,
): Promise<{
  periods: RetentionPeriods;
  diff: Record<string, { from: number | null; to: number | null }>;
  summary: string;
}> {
  const next = retentionSetSchema.parse(input);
  const before = await readRetention(tx);
  const diff: Record<string, { from: number | null; to: number | null }> = {};
  for (const k of RETENTION_KINDS) if (before[k] !== next[k]) diff[k] = { from: before[k], to: next[k] };
  if (Object.keys(diff).length > 0) {
    const value = next as Prisma.InputJsonObject;
    await tx.configSection.upsert({
      where: { key: RETENTION_SECTION_KEY },
      create: { key: RETENTION_SECTION_KEY, value },
      update: { value },
    });
  }
  const shown = (d: number | null) => (d === null ? "forever" : `${d} d`);
  const summary = `Retention: ${Object.entries(diff)
    .map(([k, d]) => `${k} ${shown(d.from)} → ${shown(d.to)}`)
    .join(", ")}`;
  return { periods: next, diff, summary };
}

export interface PurgeOptions {
  actor: Actor;
  now?: Date;
  /** Rows per transaction (default 1,000). */
  batchSize?: number;
  /** Count what would go; delete nothing, audit nothing. */
  dryRun?: boolean;
  /** CLAWGATE_AUDIT_SIGNING_KEY: without it audit rows are kept (and the result says so). */
  signingKey?: string | undefined;
}

export interface PurgeResult {
  dryRun: boolean;
  periods: RetentionPeriods;
  /** Rows deleted (or, dry run, that would be) per table. */
  counts: Record<string, number>;
  /** Unreviewed incidents whose windows were kept. */
  keptIncidents: string[];
  /** Why audit rows were not purged, when they were due and were not. */
  auditSkipped?: string;
}

type Window = { from: Date; to: Date };
const DAY_MS = 86_400_000;

/** Prisma's where for "older than cutoff and outside every window" on a time column. */
function olderOutside<F extends string>(field: F, cutoff: Date, windows: Window[]) {
  return {
    [field]: { lt: cutoff },
    ...(windows.length > 0 ? { NOT: windows.map((w) => ({ [field]: { gte: w.from, lte: w.to } })) } : {}),
  } as Record<F, { lt: Date }> & { NOT?: Array<Record<F, { gte: Date; lte: Date }>> };
}

/** Deletes (or counts) in batches until none is left; `find` returns a batch of ids. */
async function inBatches<Id>(
  dryRun: boolean,
  count: () => Promise<number>,
  find: (take: number) => Promise<Id[]>,
  remove: (ids: Id[]) => Promise<number>,
  batchSize: number,
): Promise<number> {
  if (dryRun) return count();
  let total = 0;
  for (;;) {
    const ids = await find(batchSize);
    if (ids.length === 0) return total;
    total += await remove(ids);
    if (ids.length < batchSize) return total;
  }
}

/** Runs the purge now. Audited once per run that deleted something ("retention.purge"). */
export async function purgeRetention(db: Db, opts: PurgeOptions): Promise<PurgeResult> {
  const now = opts.now ?? new Date();
  const batchSize = opts.batchSize ?? 1_000;
  const dryRun = opts.dryRun ?? false;
  const periods = await readRetention(db);
  const incidents = await unreviewedIncidentWindows(db, now);
  const windows = incidents.map((w) => ({ from: w.from, to: w.to }));
  const cutoff = (k: RetentionKind) => {
    const d = periods[k];
    return d === null ? null : new Date(now.getTime() - d * DAY_MS);
  };
  const counts: Record<string, number> = {};
  const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);

  const messages = cutoff("messages");
  if (messages) {
    // Not a message still being worked on: RECEIVED and PROCESSING rows wait for their job.
    const where = {
      ...olderOutside("receivedAt", messages, windows),
      status: { in: ["REPLIED", "DENIED", "FAILED"] },
    } satisfies Prisma.InboundMessageWhereInput;
    counts.InboundMessage = await inBatches(
      dryRun,
      () => db.inboundMessage.count({ where }),
      async (take) => ids(await db.inboundMessage.findMany({ where, select: { id: true }, take })),
      async (batch) => (await db.inboundMessage.deleteMany({ where: { id: { in: batch } } })).count,
      batchSize,
    );
    const dl = olderOutside("createdAt", messages, windows);
    counts.DeadLetter = await inBatches(
      dryRun,
      () => db.deadLetter.count({ where: dl }),
      async (take) => ids(await db.deadLetter.findMany({ where: dl, select: { id: true }, take })),
      async (batch) => (await db.deadLetter.deleteMany({ where: { id: { in: batch } } })).count,
      batchSize,
    );
  }
  const memory = cutoff("memory");
  if (memory) {
    const where = olderOutside("updatedAt", memory, windows);
    counts.ConversationMemory = await inBatches(
      dryRun,
      () => db.conversationMemory.count({ where }),
      async (take) =>
        (await db.conversationMemory.findMany({ where, select: { conversationId: true }, take })).map(
          (r) => r.conversationId,
        ),
      async (batch) => (await db.conversationMemory.deleteMany({ where: { conversationId: { in: batch } } })).count,
      batchSize,
    );
  }
  const invocations = cutoff("invocations");
  if (invocations) {
    // Decided requests only: a pending or approved one is still to be acted on.
    const ar = {
      ...olderOutside("createdAt", invocations, windows),
      status: { in: ["REJECTED", "EXPIRED", "EXECUTED", "FAILED", "INVALIDATED"] },
    } satisfies Prisma.ApprovalRequestWhereInput;
    counts.ApprovalRequest = await inBatches(
      dryRun,
      () => db.approvalRequest.count({ where: ar }),
      async (take) => ids(await db.approvalRequest.findMany({ where: ar, select: { id: true }, take })),
      async (batch) => (await db.approvalRequest.deleteMany({ where: { id: { in: batch } } })).count,
      batchSize,
    );
    // Not one an approval request still binds to.
    const si = { ...olderOutside("createdAt", invocations, windows), approvalRequest: { is: null } };
    counts.SkillInvocation = await inBatches(
      dryRun,
      () => db.skillInvocation.count({ where: si }),
      async (take) => ids(await db.skillInvocation.findMany({ where: si, select: { id: true }, take })),
      async (batch) => (await db.skillInvocation.deleteMany({ where: { id: { in: batch } } })).count,
      batchSize,
    );
  }
  const outbound = cutoff("outbound");
  if (outbound) {
    const where = {
      ...olderOutside("createdAt", outbound, windows),
      status: { in: ["SENT", "FAILED", "UNCONFIRMED"] },
    } satisfies Prisma.OutboundMessageWhereInput;
    counts.OutboundMessage = await inBatches(
      dryRun,
      () => db.outboundMessage.count({ where }),
      async (take) => ids(await db.outboundMessage.findMany({ where, select: { id: true }, take })),
      async (batch) => (await db.outboundMessage.deleteMany({ where: { id: { in: batch } } })).count,
      batchSize,
    );
  }

  let auditSkipped: string | undefined;
  const audit = cutoff("audit");
  if (audit) {
    // The chain's oldest prefix only: rows before the cutoff and before every unreviewed window.
    const limit = windows.reduce((t, w) => (w.from < t ? w.from : t), audit);
    const firstKept = await db.auditLog.findFirst({
      where: { at: { gte: limit } },
      orderBy: { id: "asc" },
      select: { id: true },
    });
    // Never the newest row: the next entry links to it (a chain emptied would restart unsigned).
    const newest = await db.auditLog.findFirst({ orderBy: { id: "desc" }, select: { id: true } });
    const boundary = firstKept?.id ?? newest?.id ?? null;
    const due = boundary === null ? 0 : await db.auditLog.count({ where: { id: { lt: boundary } } });
    if (dryRun || due === 0) counts.AuditLog = due;
    else if (!opts.signingKey || opts.signingKey.length < AUDIT_SIGNING_KEY_MIN) {
      counts.AuditLog = 0;
      auditSkipped = `${due} audit rows are due but CLAWGATE_AUDIT_SIGNING_KEY is not set (at least ${AUDIT_SIGNING_KEY_MIN} characters): kept`;
    } else counts.AuditLog = await purgeAudit(db, boundary!, opts.signingKey, batchSize);
  }

  const result: PurgeResult = {
    dryRun,
    periods,
    counts,
    keptIncidents: incidents.map((w) => w.id),
    ...(auditSkipped && { auditSkipped }),
  };
  const deleted = Object.values(counts).reduce((a, b) => a + b, 0);
  if (!dryRun && (deleted > 0 || auditSkipped)) {
    await db.$transaction((tx) =>
      appendAudit(tx, {
        actor: opts.actor,
        action: "retention.purge",
        targetType: "retention",
        diff: { counts, periods, keptIncidents: result.keptIncidents, ...(auditSkipped && { auditSkipped }) },
      }),
    );
  }
  return result;
}

/**
 * Deletes audit rows below `beforeId`, oldest first, `batchSize` per
 * transaction, each with its signed checkpoint. Serialised with appends on the chain's lock.
 */
async function purgeAudit(db: Db, beforeId: bigint, key: string, batchSize: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`;
      const rows = await tx.auditLog.findMany({
        where: { id: { lt: beforeId } },
        orderBy: { id: "asc" },
        take: batchSize,
        select: { id: true, hash: true, at: true },
      });
      const last = rows.at(-1);
      if (!last) return 0;
      const checkpoint = await tx.auditCheckpoint.create({
        data: {
          lastId: last.id,
          lastHash: last.hash,
          lastAt: last.at,
          purged: rows.length,
          signature: signCheckpoint(key, { lastId: last.id, lastHash: last.hash, lastAt: last.at }),
        },
        select: { id: true },
      });
      await tx.$queryRaw`SELECT set_config('clawgate.audit_purge_checkpoint', ${String(checkpoint.id)}, true)`;
      const { count } = await tx.auditLog.deleteMany({ where: { id: { lte: last.id } } });
      return count;
    });
    total += n;
    if (n < batchSize) return total;
  }
}
