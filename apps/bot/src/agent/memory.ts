/**
 * Conversation memory (ConversationMemory, keyed by Conversation.id): the latest turns verbatim
 * in `recent` (the user's text and the final answer, no tool traffic), older turns folded into
 * `summary`, one compact line each, once `recent` outgrows its share of the max context. The
 * summary has a hard cap: its oldest lines go first. Folding is extractive and deterministic,
 * so it costs no model call. Memory is conversation content: it stays in the database and is
 * never logged.
 */
import type { Db } from "@clawgate/db";
import { z } from "zod";
import { clipTokens, countTokens, messageTokens, type ContextLimits } from "./tokens.ts";

export interface MemoryTurn {
  role: "user" | "assistant";
  content: string;
}

export interface Memory {
  summary: string;
  recent: MemoryTurn[];
}

export const EMPTY_MEMORY: Memory = { summary: "", recent: [] };

const Recent = z.array(z.object({ role: z.enum(["user", "assistant"]), content: z.string() }));

/** Words of a folded turn kept per side of its summary line. */
const LINE_TOKENS = 24;

const squash = (text: string) => {
  const c = clipTokens(text.replace(/\s+/g, " ").trim(), LINE_TOKENS);
  return c.clipped ? `${c.text.trimEnd()}…` : c.text;
};

/** One summary line per folded turn. */
export const summaryLine = (user: string, assistant: string) => `- User: ${squash(user)} | Assistant: ${squash(assistant)}`;

export const recentTokens = (recent: readonly MemoryTurn[]) => recent.reduce((n, m) => n + messageTokens(m), 0);

/** The memory after one more answered turn: appended, then folded and capped to `limits`. */
export function foldTurn(memory: Memory, user: string, assistant: string, limits: ContextLimits): Memory & { tokens: number } {
  let recent: MemoryTurn[] = [...memory.recent, { role: "user", content: user }, { role: "assistant", content: assistant }];
  const lines = memory.summary ? memory.summary.split("\n") : [];
  while (recent.length > 0 && recentTokens(recent) > limits.recent) {
    // Turns are stored in pairs; a stray message (an older format, a hand edit) folds on its own.
    const [first, second] = recent;
    if (first!.role === "user" && second?.role === "assistant") {
      lines.push(summaryLine(first!.content, second.content));
      recent = recent.slice(2);
    } else {
      lines.push(first!.role === "user" ? summaryLine(first!.content, "") : summaryLine("", first!.content));
      recent = recent.slice(1);
    }
  }
  while (lines.length > 0 && countTokens(lines.join("\n")) > limits.summary) lines.shift();
  const summary = lines.join("\n");
  return { summary, recent, tokens: countTokens(summary) + recentTokens(recent) };
}

/** The conversation's memory (DingTalk conversation id); empty when it has none yet. */
export async function loadMemory(db: Db, conversationId: string): Promise<Memory> {
  const row = await db.conversationMemory.findFirst({ where: { conversation: { conversationId } }, select: { summary: true, recent: true } });
  if (!row) return EMPTY_MEMORY;
  const recent = Recent.safeParse(row.recent);
  return { summary: row.summary, recent: recent.success ? recent.data : [] };
}

/**
 * Adds an answered turn. The row is created if missing, then locked while the new state is
 * folded from what is stored now, so concurrent turns of one conversation each land (in commit
 * order) instead of the last writer dropping the other's turn.
 */
export async function saveTurn(db: Db, conversationId: string, user: string, assistant: string, limits: ContextLimits): Promise<void> {
  await db.$transaction(async (tx) => {
    await tx.$executeRaw`
      INSERT INTO "ConversationMemory" ("conversationId", "summary", "tokens", "turns", "recent", "updatedAt")
      SELECT "id", '', 0, 0, '[]'::jsonb, now() FROM "Conversation" WHERE "conversationId" = ${conversationId}
      ON CONFLICT ("conversationId") DO NOTHING`;
    const [row] = await tx.$queryRaw<{ id: string; summary: string; recent: unknown }[]>`
      SELECT m."conversationId" AS id, m."summary", m."recent"
        FROM "ConversationMemory" m JOIN "Conversation" c ON c."id" = m."conversationId"
       WHERE c."conversationId" = ${conversationId}
         FOR UPDATE OF m`;
    if (!row) return; // no Conversation row: nothing to remember it by
    const parsed = Recent.safeParse(row.recent);
    const next = foldTurn({ summary: row.summary, recent: parsed.success ? parsed.data : [] }, user, assistant, limits);
    await tx.conversationMemory.update({
      where: { conversationId: row.id },
      data: { summary: next.summary, recent: next.recent as unknown as object[], tokens: next.tokens, turns: { increment: 1 } },
    });
  });
}
