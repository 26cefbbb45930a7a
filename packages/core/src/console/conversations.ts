/**
 * DingTalk conversations the robot has seen (Conversations page). The runtime adds a row the
 * first time a group or chat messages the robot (status PENDING: denied until reviewed); an
 * operator enables or disables it and picks its environment (which skills apply). These are
 * config changes: the console wraps `updateConversation` in `configMutation` (audit entry and
 * config revision in the same transaction, so every replica reloads its snapshot).
 */
import type { ConversationStatus, Environment } from "@clawgate/db/enums";
import type { Db, Prisma, Tx } from "@clawgate/db";
import { z } from "zod";
import { diffFields, type FieldDiff } from "../diff.ts";
import { DomainError, parseInput } from "../errors.ts";

export const CONVERSATION_STATUSES = [
  "PENDING",
  "ENABLED",
  "DISABLED",
] as const satisfies readonly ConversationStatus[];
export const ENVIRONMENTS = ["TEST", "PROD"] as const satisfies readonly Environment[];

export const conversationListSchema = z.strictObject({
  status: z.enum(CONVERSATION_STATUSES, { error: "status must be PENDING, ENABLED or DISABLED" }).optional(),
  environment: z.enum(ENVIRONMENTS, { error: "environment must be TEST or PROD" }).optional(),
  search: z.string().trim().max(200, { error: "the search is too long (200 characters at most)" }).optional(),
  page: z.number().int().min(1).default(1),
  pageSize: z.number().int().min(1).max(100).default(20),
});
export type ConversationListInput = z.input<typeof conversationListSchema>;

export async function listConversations(db: Db | Tx, input: ConversationListInput = {}) {
  const q = conversationListSchema.parse(input);
  const where: Prisma.ConversationWhereInput = {
    ...(q.status ? { status: q.status } : {}),
    ...(q.environment ? { environment: q.environment } : {}),
    ...(q.search
      ? { OR: [{ title: { contains: q.search, mode: "insensitive" } }, { conversationId: { contains: q.search } }] }
      : {}),
  };
  const [items, total, byStatus] = await Promise.all([
    db.conversation.findMany({
      where,
      // The most recently active first (a new, pending one is at the top when it just wrote).
      orderBy: [{ lastSeenAt: "desc" }, { id: "asc" }],
      skip: (q.page - 1) * q.pageSize,
      take: q.pageSize,
      select: {
        id: true,
        conversationId: true,
        title: true,
        type: true,
        environment: true,
        status: true,
        firstSeenAt: true,
        lastSeenAt: true,
      },
    }),
    db.conversation.count({ where }),
    db.conversation.groupBy({ by: ["status"], _count: { _all: true } }),
  ]);
  const counts = Object.fromEntries(
    CONVERSATION_STATUSES.map((s) => [s, byStatus.find((r) => r.status === s)?._count._all ?? 0]),
  ) as Record<ConversationStatus, number>;
  return { items, total, page: q.page, pageSize: q.pageSize, counts };
}

export const conversationUpdateSchema = z
  .strictObject({
    id: z.string().min(1, { error: "id is required" }),
    // PENDING is where new conversations start; an operator decides ENABLED or DISABLED.
    status: z.enum(["ENABLED", "DISABLED"], { error: "status must be ENABLED or DISABLED" }).optional(),
    environment: z.enum(ENVIRONMENTS, { error: "environment must be TEST or PROD" }).optional(),
  })
  .refine((v) => v.status !== undefined || v.environment !== undefined, {
    error: "nothing to change: give a status or an environment",
  });
export type ConversationUpdate = z.input<typeof conversationUpdateSchema>;

export interface ConversationChange {
  id: string;
  conversationId: string;
  title: string | null;
  status: ConversationStatus;
  environment: Environment;
  diff: FieldDiff;
  summary: string;
}

/** Sets a conversation's status and/or environment on the caller's transaction. */
export async function updateConversation(tx: Tx, input: ConversationUpdate): Promise<ConversationChange> {
  const { id, ...change } = parseInput(conversationUpdateSchema, input);
  // Row lock: two operators changing the same conversation get a correct before/after each.
  const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM "Conversation" WHERE id = ${id} FOR UPDATE`;
  if (locked.length === 0) throw new DomainError("NOT_FOUND", "No such conversation.");
  const before = await tx.conversation.findUniqueOrThrow({ where: { id } });
  const diff = diffFields(
    { status: before.status, environment: before.environment },
    { status: before.status, environment: before.environment, ...change },
  );
  const name = before.title ?? before.conversationId;
  // Nothing to change: not written (the caller records no revision for an empty diff).
  const after = Object.keys(diff).length === 0 ? before : await tx.conversation.update({ where: { id }, data: change });
  const parts = Object.entries(diff).map(([k, d]) => ("from" in d ? `${k} ${String(d.from)} -> ${String(d.to)}` : k));
  return {
    id,
    conversationId: after.conversationId,
    title: after.title,
    status: after.status,
    environment: after.environment,
    diff,
    summary: parts.length > 0 ? `Conversation "${name}": ${parts.join(", ")}` : `Conversation "${name}": unchanged`,
  };
}
