/**
 * Conversation memory (ConversationMemory, keyed by Conversation.id): the latest turns verbatim
 * in `recent` (the user's text and the final answer, no tool traffic), older turns folded into
 * `summary`, one compact line each, once `recent` outgrows its share of the max context. The
 * summary has a hard cap: its oldest lines go first. Folding is extractive and deterministic,
 * so it costs no model call. Memory is conversation content: it stays in the database and is
 * never logged.
 */
import { openValue, sealJson, sealText, type KeyRing } from "@clawgate/db";
import { z } from "zod";
import { ASYNC_COMMIT, type Sql } from "./sql.ts";
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
  const flat = text.replace(/\s+/g, " ").trim();
  // Only the start is needed: encode a prefix long enough for LINE_TOKENS tokens, not the whole text.
  const head = flat.slice(0, LINE_TOKENS * 16);
  const c = clipTokens(head, LINE_TOKENS);
  return c.clipped || head.length < flat.length ? `${c.text.trimEnd()}…` : c.text;
};

/** One summary line per folded turn. */
export const summaryLine = (user: string, assistant: string) =>
  `- User: ${squash(user)} | Assistant: ${squash(assistant)}`;

export const recentTokens = (recent: readonly MemoryTurn[]) => recent.reduce((n, m) => n + messageTokens(m), 0);

/** The memory after one more answered turn: appended, then folded and capped to `limits`. */
export function foldTurn(
  memory: Memory,
  user: string,
  assistant: string,
  limits: ContextLimits,
): Memory & { tokens: number } {
  let recent: MemoryTurn[] = [
    ...memory.recent,
    { role: "user", content: user },
    { role: "assistant", content: assistant },
  ];
  let size = recentTokens(recent);
  const lines = memory.summary ? memory.summary.split("\n") : [];
  while (recent.length > 0 && size > limits.recent) {
    // Turns are stored in pairs; a stray message (an older format, a hand edit) folds on its own.
    const [first, second] = recent;
    const pair = first!.role === "user" && second?.role === "assistant";
    lines.push(
      pair
        ? summaryLine(first!.content, second.content)
        : first!.role === "user"
          ? summaryLine(first!.content, "")
          : summaryLine("", first!.content),
    );
    const folded = recent.slice(0, pair ? 2 : 1);
    recent = recent.slice(folded.length);
    size -= recentTokens(folded);
  }
  // The cap, counted per line (+1 for each line break); oldest lines go first.
  let summaryTokens = lines.reduce((n, l) => n + countTokens(l) + 1, 0);
  while (lines.length > 0 && summaryTokens > limits.summary) summaryTokens -= countTokens(lines.shift()!) + 1;
  const summary = lines.join("\n");
  return { summary, recent, tokens: summaryTokens + size };
}

/** Memory as loaded: also which row it came from and its turn count (the version a save checks). */
export interface StoredMemory extends Memory {
  /** ConversationMemory.conversationId (= Conversation.id); null when the conversation has no memory yet. */
  key: string | null;
  turns: number;
}

export const NO_STORED_MEMORY: StoredMemory = { ...EMPTY_MEMORY, key: null, turns: 0 };

/** The columns a StoredMemory is read from, for a query that joins "ConversationMemory" as `m`. */
export const MEMORY_COLUMNS = `m."conversationId" AS "key", m."summary", m."recent", m."turns"`;

export interface MemoryRow {
  key: string | null;
  summary: string | null;
  recent: unknown;
  turns: number | null;
}

/** A row of MEMORY_COLUMNS (all null: a LEFT JOIN that found no memory) as a StoredMemory, decrypted. */
export function storedMemory(row: MemoryRow | undefined, keys: KeyRing | null): StoredMemory {
  if (!row || row.key === null) return NO_STORED_MEMORY;
  const recent = Recent.safeParse(openValue(keys, row.recent));
  const summary = openValue(keys, row.summary ?? "") as string;
  return { key: row.key, turns: row.turns ?? 0, summary, recent: recent.success ? recent.data : [] };
}

const LOAD = `SELECT ${MEMORY_COLUMNS}
  FROM "ConversationMemory" m JOIN "Conversation" c ON c."id" = m."conversationId" WHERE c."conversationId" = $1`;

/** The conversation's memory (DingTalk conversation id); empty when it has none yet. */
export async function loadMemory(sql: Sql, conversationId: string): Promise<StoredMemory> {
  const [row] = await sql.query<MemoryRow>(LOAD, [conversationId]);
  return storedMemory(row, sql.keys);
}

/** Concurrent saves of one conversation that lose the race re-read and fold again, at most this often. */
const SAVE_ATTEMPTS = 20;

/**
 * Adds an answered turn to the memory loaded at the turn's start, as ONE statement: an insert
 * for a conversation without memory, else an update that only applies while `turns` is still
 * what was loaded (compare and set). A concurrent turn that saved first makes it re-read and
 * fold again, so every turn lands and none overwrites another's.
 */
const INSERT = `INSERT INTO "ConversationMemory" ("conversationId", "summary", "tokens", "turns", "recent", "updatedAt")
  SELECT "id", $2, $3, 1, $4::jsonb, now() FROM "Conversation" WHERE "conversationId" = $1
  ON CONFLICT ("conversationId") DO NOTHING RETURNING ${ASYNC_COMMIT}`;
const UPDATE = `UPDATE "ConversationMemory" SET "summary" = $2, "tokens" = $3, "recent" = $4::jsonb, "turns" = "turns" + 1, "updatedAt" = now()
  WHERE "conversationId" = $1 AND "turns" = $5 RETURNING ${ASYNC_COMMIT}`;

export async function saveTurn(
  sql: Sql,
  conversationId: string,
  loaded: StoredMemory,
  user: string,
  assistant: string,
  limits: ContextLimits,
): Promise<void> {
  let base = loaded;
  for (let attempt = 0; attempt < SAVE_ATTEMPTS; attempt++) {
    const next = foldTurn(base, user, assistant, limits);
    const recent = JSON.stringify(sealJson(sql.keys, next.recent));
    const summary = sealText(sql.keys, next.summary);
    const saved =
      base.key === null
        ? await sql.query(INSERT, [conversationId, summary, next.tokens, recent])
        : await sql.query(UPDATE, [base.key, summary, next.tokens, recent, base.turns]);
    if (saved.length === 1) return;
    const inserting = base.key === null;
    base = await loadMemory(sql, conversationId);
    // An insert that found neither a conflict nor a Conversation row: nothing to remember it by.
    if (inserting && base.key === null) return;
  }
  throw new Error(`conversation memory: gave up after ${SAVE_ATTEMPTS} concurrent updates`);
}
