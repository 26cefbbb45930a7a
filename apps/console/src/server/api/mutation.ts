/**
 * Console mutations, the one way: the change, its audit entry and (for what the runtime
 * enforces) a new config revision commit in ONE transaction; the revision's NOTIFY goes out at
 * commit, so every runtime replica reloads. A procedure parses (zod), authorises (role
 * procedure), then calls one of these with a core function doing the change on `tx`.
 */
import "server-only";
import { appendAudit, recordConfigChange, type Actor, type AuditAction } from "@clawgate/core";
import type { Change } from "@clawgate/core/console/models.ts";
import type { Tx } from "@clawgate/db";
import { z } from "zod";
import type { Context } from "./trpc.ts";

type SignedIn = Context & { user: { id: string; name?: string | null; email?: string | null } };

/** The signed-in user as the audit log names them. */
export function actorOf(ctx: SignedIn): Actor {
  return { type: "USER", id: ctx.user.id, name: ctx.user.email ?? ctx.user.name ?? ctx.user.id };
}

export interface MutationRecord {
  action: AuditAction;
  targetType: string;
  targetId?: string | null;
  /** Which fields changed (never secret values: see core's diff helpers). */
  diff?: Record<string, unknown> | null;
  summary: string;
}

/** Thrown inside the transaction when a save changes nothing, so that it rolls back. */
class NothingChanged<T> extends Error {
  constructor(readonly result: T) {
    super("nothing changed");
  }
}

/**
 * A change to what the runtime enforces (skills, rules, flags, models, budgets, conversations,
 * safe mode): change + audit + config revision bump in one transaction. Returns the change's
 * result and the new revision.
 *
 * The one rule for a save that changes nothing (its record's `diff` is empty): it is not an
 * error; nothing is written (no audit entry, no revision) and it returns `revision: null,
 * changed: false`.
 */
export async function configMutation<T>(
  ctx: SignedIn,
  record: MutationRecord | ((result: T) => MutationRecord),
  change: (tx: Tx) => Promise<T>,
): Promise<{ result: T; revision: number | null; changed: boolean }> {
  const actor = actorOf(ctx);
  try {
    return await ctx.db.$transaction(async (tx) => {
      const result = await change(tx);
      const r = typeof record === "function" ? record(result) : record;
      if (r.diff && Object.keys(r.diff).length === 0) throw new NothingChanged(result);
      const revision = await recordConfigChange(tx, { actor, traceId: ctx.requestId, ...r });
      return { result, revision, changed: true };
    });
  } catch (error) {
    if (error instanceof NothingChanged) return { result: error.result as T, revision: null, changed: false };
    throw error;
  }
}

/** What a config save answers: the revision it made, or `revision: null, changed: false` when nothing changed. */
export const savedOutput = { revision: z.number().int().nullable(), changed: z.boolean() };

/** A core change (`Change`: its result and diff) as a config mutation, answered with its id. */
export async function applyChange<R extends { id: string }>(
  ctx: SignedIn,
  change: (tx: Tx) => Promise<Change<R>>,
  describe: (c: Change<R>) => MutationRecord,
): Promise<{ id: string; revision: number | null; changed: boolean }> {
  const { result, revision, changed } = await configMutation(ctx, describe, change);
  return { id: result.result.id, revision, changed };
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
