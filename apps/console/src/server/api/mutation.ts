/**
 * Console mutations, the one way: the change, its audit entry and (for what the runtime
 * enforces) a new config revision commit in ONE transaction; the revision's NOTIFY goes out at
 * commit, so every runtime replica reloads. A procedure parses (zod), authorises (role
 * procedure), then calls one of these with a core function doing the change on `tx`.
 */
import "server-only";
import { appendAudit, recordConfigChange, type Actor } from "@clawgate/core";
import type { Tx } from "@clawgate/db";
import type { Context } from "./trpc.ts";

type SignedIn = Context & { user: { id: string; name?: string | null; email?: string | null } };

/** The signed-in user as the audit log names them. */
export function actorOf(ctx: SignedIn): Actor {
  return { type: "USER", id: ctx.user.id, name: ctx.user.email ?? ctx.user.name ?? ctx.user.id };
}

export interface MutationRecord {
  action: string; // dotted verb, e.g. "skill.update"
  targetType: string;
  targetId?: string | null;
  /** Which fields changed (never secret values: see core's diff helpers). */
  diff?: Record<string, unknown> | null;
  summary: string;
}

/**
 * A change to what the runtime enforces (skills, rules, flags, models, budgets, conversations,
 * safe mode): change + audit + config revision bump in one transaction. Returns the change's
 * result and the new revision.
 */
export async function configMutation<T>(
  ctx: SignedIn,
  record: MutationRecord | ((result: T) => MutationRecord),
  change: (tx: Tx) => Promise<T>,
): Promise<{ result: T; revision: number }> {
  const actor = actorOf(ctx);
  return ctx.db.$transaction(async (tx) => {
    const result = await change(tx);
    const r = typeof record === "function" ? record(result) : record;
    const revision = await recordConfigChange(tx, { actor, traceId: ctx.requestId, ...r });
    return { result, revision };
  });
}

/** A change the runtime's policy does not read (users and roles, approval decisions): change + audit. */
export async function auditedMutation<T>(
  ctx: SignedIn,
  record: Omit<MutationRecord, "summary"> | ((result: T) => Omit<MutationRecord, "summary">),
  change: (tx: Tx) => Promise<T>,
): Promise<T> {
  const actor = actorOf(ctx);
  return ctx.db.$transaction(async (tx) => {
    const result = await change(tx);
    const r = typeof record === "function" ? record(result) : record;
    await appendAudit(tx, { actor, traceId: ctx.requestId, ...r });
    return result;
  });
}
