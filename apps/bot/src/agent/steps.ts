/**
 * A turn's completed steps (`TurnStep`): each model answer (with the usage it reported) and
 * each tool result, stored as the turn goes. A job that runs the turn again (it failed after the
 * model answered: a database error, a bug, a crash) replays them in order instead of calling the
 * model or the tool again, so a retry never pays twice. Each model step also adds its call and
 * tokens to the inbound message (`modelCalls`, `promptTokens`, `completionTokens`): the totals
 * over every attempt. Steps are conversation content: in the database, never in logs.
 *
 * Written like the turn's other rows (DeferredWrites, asynchronous commit): the turn does not
 * wait for them, and they are all settled before the turn ends or fails.
 */
import { maskDeep } from "@clawgate/db/personal-data";
import type OpenAI from "openai";
import { openValue, sealJson } from "@clawgate/db";
import { z } from "zod";
import { ASYNC_COMMIT, type Sql } from "./sql.ts";

export interface ModelStep {
  kind: "model";
  message: { content: string | null; tool_calls?: OpenAI.ChatCompletionMessageFunctionToolCall[] };
  usage: { promptTokens: number; completionTokens: number };
}

export interface ToolStep {
  kind: "tool";
  callId: string;
  skillKey: string;
  content: string;
  decision: "ALLOW" | "DENY" | "NEEDS_APPROVAL";
  outcome: "SUCCESS" | "ERROR" | "TIMEOUT" | "DENIED" | "PENDING_APPROVAL";
  approvalId?: string;
  safeModeNotice?: string;
  /** The call's output was untrusted content (so a resumed turn stays tainted). */
  untrusted?: { skillKey: string; invocationId: string };
}

export type TurnStep = ModelStep | ToolStep;

const stepSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("model"),
    message: z.object({
      content: z.string().nullable(),
      tool_calls: z
        .array(
          z.object({
            id: z.string(),
            type: z.literal("function"),
            function: z.object({ name: z.string(), arguments: z.string() }),
          }),
        )
        .optional(),
    }),
    usage: z.object({ promptTokens: z.number(), completionTokens: z.number() }),
  }),
  z.object({
    kind: z.literal("tool"),
    callId: z.string(),
    skillKey: z.string(),
    content: z.string(),
    decision: z.enum(["ALLOW", "DENY", "NEEDS_APPROVAL"]),
    outcome: z.enum(["SUCCESS", "ERROR", "TIMEOUT", "DENIED", "PENDING_APPROVAL"]),
    approvalId: z.string().optional(),
    safeModeNotice: z.string().optional(),
    untrusted: z.object({ skillKey: z.string(), invocationId: z.string() }).optional(),
  }),
]);

const LOAD = `SELECT "seq", "data" FROM "TurnStep" WHERE "inboundMessageId" = $1 ORDER BY "seq"`;

/** The steps an earlier attempt stored, in order (a step that no longer parses ends the list). */
export async function loadSteps(sql: Sql, inboundId: string): Promise<{ steps: TurnStep[]; nextSeq: number }> {
  const rows = await sql.query<{ seq: number; data: unknown }>(LOAD, [inboundId]);
  const steps: TurnStep[] = [];
  for (const row of rows) {
    const step = stepSchema.safeParse(openValue(sql.keys, row.data));
    if (!step.success || row.seq !== steps.length) break;
    steps.push(step.data as TurnStep);
  }
  return { steps, nextSeq: rows.reduce((n, r) => Math.max(n, r.seq + 1), 0) };
}

// The step and, for a model step, the message's totals, in one statement; a step already stored
// (a concurrent copy of the job) adds nothing.
const SAVE = `WITH s AS (
  INSERT INTO "TurnStep" ("inboundMessageId", "seq", "kind", "data") VALUES ($1, $2, $3, $4::jsonb)
  ON CONFLICT DO NOTHING RETURNING 1
)
UPDATE "InboundMessage" SET "modelCalls" = "modelCalls" + $5, "promptTokens" = "promptTokens" + $6,
  "completionTokens" = "completionTokens" + $7,
  "model" = COALESCE($8, "model"), "configRevision" = COALESCE($9, "configRevision")
  WHERE "id" = $1 AND EXISTS (SELECT 1 FROM s) RETURNING ${ASYNC_COMMIT}`;

/** Which model answered and under which config revision (the conversation log shows them). */
export interface StepMeta {
  model: string;
  configRevision: number;
}

export async function saveStep(
  sql: Sql,
  inboundId: string,
  seq: number,
  step: TurnStep,
  meta?: StepMeta,
): Promise<void> {
  const model = step.kind === "model";
  await sql.query(SAVE, [
    inboundId,
    seq,
    step.kind,
    // Personal data masked, then sealed (a resumed turn reads it masked).
    JSON.stringify(sealJson(sql.keys, maskDeep(step))),
    model ? 1 : 0,
    model ? step.usage.promptTokens : 0,
    model ? step.usage.completionTokens : 0,
    model ? (meta?.model ?? null) : null,
    model ? (meta?.configRevision ?? null) : null,
  ]);
}
