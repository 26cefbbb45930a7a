/**
 * Dead letters: work the runtime gave up on, for operators. An INGRESS letter is a verified
 * message PostgreSQL refused even after its text was made storable (acknowledged to DingTalk, so
 * it is not redelivered forever); an INBOUND_JOB letter is a message whose job failed the same
 * way twice, or on a data error, or three times (the user got the "something went wrong" reply).
 * Each has its reason, trace id and time; the console lists them, `clawgate dead-letters`
 * lists and retries them, and the runtime's /metrics counts them.
 *
 * A retry (operator or admin; audited) puts the message back on the queue: its job runs again,
 * resuming the turn after its last stored step, so a model answer already paid for is reused.
 */
import type { DeadLetter, Db, IngressChannel, Prisma } from "@clawgate/db";
import { z } from "zod";
import type { Actor } from "./actor.ts";
import { appendAudit } from "./audit.ts";
import { DomainError, type DomainErrorCode } from "./errors.ts";

/** The runtime's job for a stored inbound message (apps/bot: `inbound.handle`). */
export const INBOUND_TASK = "inbound.handle";

/** Why a retry was refused (DomainError.reason), for callers that branch on it. */
export type DeadLetterRefusal = "invalid_input" | "not_found" | "already_retried" | "gone" | "queue_missing";

const REFUSAL_CODES: Record<DeadLetterRefusal, DomainErrorCode> = {
  invalid_input: "BAD_REQUEST",
  not_found: "NOT_FOUND",
  already_retried: "CONFLICT",
  gone: "PRECONDITION_FAILED",
  queue_missing: "PRECONDITION_FAILED",
};

const refused = (reason: DeadLetterRefusal, message: string) =>
  new DomainError(REFUSAL_CODES[reason], message, { reason });

export interface DeadLetterInput {
  source: DeadLetter["source"];
  reason: string;
  errorCode?: string | null;
  traceId: string;
  inboundMessageId?: string | null;
  robotCode?: string | null;
  msgId?: string | null;
  conversationId?: string | null;
  channel?: string | null;
  attempts?: number;
}

/** Records a dead letter (metadata and the reason; never a message body). Returns its id. */
export async function recordDeadLetter(db: Db, input: DeadLetterInput): Promise<string> {
  const row = await db.deadLetter.create({
    data: { ...input, reason: input.reason.slice(0, 500) },
    select: { id: true },
  });
  return row.id;
}

export const listDeadLettersInput = z.object({
  status: z.enum(["OPEN", "RETRIED", "ALL"]).default("OPEN"),
  limit: z.number().int().min(1).max(200).default(50),
});
export type ListDeadLettersInput = z.input<typeof listDeadLettersInput>;

export interface DeadLetterItem {
  id: string;
  source: DeadLetter["source"];
  status: DeadLetter["status"];
  reason: string;
  errorCode: string | null;
  traceId: string;
  inboundMessageId: string | null;
  conversationId: string | null;
  channel: string | null;
  attempts: number;
  createdAt: Date;
  retriedAt: Date | null;
  retriedBy: string | null;
}

const ITEM = {
  id: true,
  source: true,
  status: true,
  reason: true,
  errorCode: true,
  traceId: true,
  inboundMessageId: true,
  conversationId: true,
  channel: true,
  attempts: true,
  createdAt: true,
  retriedAt: true,
  retriedBy: true,
} satisfies Prisma.DeadLetterSelect;

/** The newest dead letters first (OPEN by default), with the number of OPEN ones in all. */
export async function listDeadLetters(
  db: Db,
  input: ListDeadLettersInput = {},
): Promise<{ items: DeadLetterItem[]; open: number }> {
  const { status, limit } = listDeadLettersInput.parse(input);
  const [items, open] = await Promise.all([
    db.deadLetter.findMany({
      where: status === "ALL" ? {} : { status },
      orderBy: { createdAt: "desc" },
      take: limit,
      select: ITEM,
    }),
    countOpenDeadLetters(db),
  ]);
  return { items, open };
}

export function countOpenDeadLetters(db: Db): Promise<number> {
  return db.deadLetter.count({ where: { status: "OPEN" } });
}

export const retryDeadLetterInput = z.object({
  id: z.string().trim().min(1, "the dead letter id is required").max(64),
  traceId: z.string().max(128).optional(),
});
export type RetryDeadLetterInput = z.input<typeof retryDeadLetterInput>;

const robotPayload = z.looseObject({
  msgId: z.string(),
  conversationId: z.string(),
  senderId: z.string(),
  senderStaffId: z.string().optional(),
  msgtype: z.string(),
});

/**
 * Puts a dead letter's message back on the queue and marks the letter RETRIED, audited, in one
 * transaction: an INBOUND_JOB letter's stored message is set RECEIVED again; an INGRESS letter's
 * message is stored from its payload (a copy DingTalk delivered meanwhile is kept as it is).
 * Throws DomainError (changing nothing) when the letter is unknown, already retried, or
 * its message is gone (the retention deleted it, or an INGRESS letter kept no payload).
 */
export async function retryDeadLetter(db: Db, actor: Actor, input: RetryDeadLetterInput): Promise<DeadLetterItem> {
  const parsed = retryDeadLetterInput.safeParse(input);
  if (!parsed.success) throw refused("invalid_input", parsed.error.issues.map((i) => i.message).join("; "));
  const { id, traceId } = parsed.data;
  return db.$transaction(async (tx) => {
    const locked = await tx.$queryRaw<{ id: string }[]>`SELECT "id" FROM "DeadLetter" WHERE "id" = ${id} FOR UPDATE`;
    const letter = locked.length > 0 ? await tx.deadLetter.findUnique({ where: { id } }) : null;
    if (!letter) throw refused("not_found", `There is no dead letter "${id}".`);
    if (letter.status !== "OPEN")
      throw refused(
        "already_retried",
        `Dead letter ${id} was already retried (${letter.retriedAt?.toISOString() ?? "earlier"}).`,
      );
    const [schema] = await tx.$queryRaw<
      { present: boolean }[]
    >`SELECT to_regnamespace('graphile_worker') IS NOT NULL AS present`;
    if (!schema?.present)
      throw refused("queue_missing", "The runtime's queue does not exist yet: start `clawgate serve` once.");

    let inboundId: string | null = null;
    if (letter.source === "INBOUND_JOB") {
      const stored = letter.inboundMessageId
        ? await tx.inboundMessage.updateMany({
            where: { id: letter.inboundMessageId },
            data: { status: "RECEIVED", error: null, processedAt: null },
          })
        : { count: 0 };
      if (stored.count === 0)
        throw refused("gone", `The message of dead letter ${id} is no longer stored (retention).`);
      inboundId = letter.inboundMessageId;
    } else {
      const payload = robotPayload.safeParse(letter.payload);
      if (!payload.success || !letter.robotCode)
        throw refused("gone", `Dead letter ${id} kept no message to store again.`);
      const msg = payload.data;
      // Through the client (not raw SQL): the payload is sealed like every other write of it.
      const [row] = await tx.inboundMessage.createManyAndReturn({
        data: [
          {
            id: `dl_${id}`,
            robotCode: letter.robotCode,
            msgId: msg.msgId,
            channel: (letter.channel ?? "HTTP") as IngressChannel,
            conversationId: msg.conversationId,
            senderId: msg.senderStaffId || msg.senderId,
            msgType: msg.msgtype,
            payload: letter.payload as Prisma.InputJsonValue,
            traceId: letter.traceId,
          },
        ],
        skipDuplicates: true,
        select: { id: true },
      });
      inboundId = row?.id ?? null; // null: DingTalk's redelivery was stored meanwhile and has its job
    }
    if (inboundId)
      await tx.$queryRaw`SELECT 1 FROM graphile_worker.add_job(${INBOUND_TASK},
        json_build_object('inboundId', ${inboundId}::text, 'traceId', ${letter.traceId}::text))`;
    const updated = await tx.deadLetter.update({
      where: { id },
      data: { status: "RETRIED", retriedAt: new Date(), retriedBy: actor.name },
      select: ITEM,
    });
    await appendAudit(tx, {
      actor,
      action: "dead_letter.retry",
      targetType: "dead_letter",
      targetId: id,
      diff: { source: letter.source, inboundMessageId: inboundId, requeued: inboundId !== null },
      traceId: traceId ?? letter.traceId,
    });
    return updated;
  });
}
