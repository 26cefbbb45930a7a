/**
 * The people and groups the robot has seen, for the console's subject pickers (rule subjects,
 * budget subjects, the "why?" check): ids with the names DingTalk sent, so an admin picks
 * "Li Lei (staff 0142)" instead of typing a bare id.
 *
 * - Conversations: the Conversation rows (title, type, status, environment), most recent first.
 * - People: the senders of the most recent inbound messages (the id policy and budgets use:
 *   senderStaffId, else senderId; the name is the message's `senderNick`), plus the users that
 *   USER rules and budgets already name (without a name when their messages are gone: inbound
 *   messages are deleted after the retention period).
 *
 * Bounded reads: the newest RECENT_MESSAGES messages (the receivedAt index), at most `take` of each.
 */
import type { ConversationStatus, ConversationType, Environment } from "@clawgate/db/enums";
import type { Db, Tx } from "@clawgate/db";

/** How many of the newest inbound messages the people list is drawn from. */
export const RECENT_MESSAGES = 5_000;

export interface SeenPerson {
  /** The id rules and budgets name (DingTalk staffId, or the sender id of an external user). */
  id: string;
  /** The name DingTalk sent with their latest message; null when none is kept. */
  name: string | null;
  /** Their latest message among the recent ones; null when only a rule or budget names them. */
  lastSeenAt: Date | null;
}

export interface SeenConversation {
  id: string;
  name: string | null;
  type: ConversationType;
  status: ConversationStatus;
  environment: Environment;
  lastSeenAt: Date;
}

export interface SeenSubjects {
  people: SeenPerson[];
  conversations: SeenConversation[];
}

function senderNick(payload: unknown): string | null {
  const nick = payload && typeof payload === "object" ? (payload as { senderNick?: unknown }).senderNick : undefined;
  return typeof nick === "string" && nick.trim() !== "" ? nick.trim() : null;
}

export async function seenSubjects(db: Db | Tx, take = 200): Promise<SeenSubjects> {
  const [senders, named, conversations] = await Promise.all([
    // The payload is encrypted at rest: each sender's latest one is read whole (the client
    // decrypts raw results too) and the name taken from it here, not with ->> in SQL.
    db.$queryRaw<{ id: string; payload: unknown; lastSeenAt: Date }[]>`
      SELECT DISTINCT ON (m."senderId") m."senderId" AS id, m.payload, m."receivedAt" AS "lastSeenAt"
      FROM (SELECT "senderId", payload, "receivedAt" FROM "InboundMessage"
            ORDER BY "receivedAt" DESC LIMIT ${RECENT_MESSAGES}) m
      ORDER BY m."senderId", m."receivedAt" DESC`.then((rows) =>
      rows.map(({ id, payload, lastSeenAt }) => ({ id, name: senderNick(payload), lastSeenAt })),
    ),
    Promise.all([
      db.skillRule.findMany({ where: { scope: "USER" }, select: { subject: true }, distinct: ["subject"], take }),
      db.tokenBudget.findMany({ where: { scope: "USER" }, select: { subject: true }, take }),
    ]),
    db.conversation.findMany({
      orderBy: [{ lastSeenAt: "desc" }, { id: "asc" }],
      take,
      select: { conversationId: true, title: true, type: true, status: true, environment: true, lastSeenAt: true },
    }),
  ]);
  const people = new Map<string, SeenPerson>(
    senders
      .sort((a, b) => b.lastSeenAt.getTime() - a.lastSeenAt.getTime())
      .slice(0, take)
      .map((s) => [s.id, { id: s.id, name: s.name, lastSeenAt: s.lastSeenAt }]),
  );
  for (const { subject } of named.flat()) {
    if (subject && !people.has(subject)) people.set(subject, { id: subject, name: null, lastSeenAt: null });
  }
  return {
    people: [...people.values()],
    conversations: conversations.map((c) => ({
      id: c.conversationId,
      name: c.title,
      type: c.type,
      status: c.status,
      environment: c.environment,
      lastSeenAt: c.lastSeenAt,
    })),
  };
}
