/**
 * Config revisions: every change to what the runtime enforces bumps the revision in the same
 * transaction as the change and its audit entry; runtimes reload on the NOTIFY (sent at commit)
 * and poll the revision as a fallback.
 */
import type { Tx } from "@clawgate/db";
import type { Actor } from "./actor.ts";
import { appendAudit } from "./audit.ts";
import type { AuditAction } from "./audit-actions.ts";

export const CONFIG_CHANNEL = "clawgate_config";

export async function bumpConfigRevision(tx: Tx, actor: Actor, summary: string): Promise<number> {
  const rev = await tx.configRevision.create({
    data: { actorType: actor.type, actorId: actor.id ?? null, actorName: actor.name, summary },
    select: { id: true },
  });
  await tx.$queryRaw`SELECT 1 FROM pg_notify(${CONFIG_CHANNEL}, ${String(rev.id)})`;
  return rev.id;
}

export interface ConfigChange {
  actor: Actor;
  action: AuditAction;
  targetType: string;
  targetId?: string | null;
  diff?: Record<string, unknown> | null;
  traceId?: string | null;
  summary: string;
}

/** Bumps the revision and writes the audit entry that names it. Call inside the change's transaction. */
export async function recordConfigChange(tx: Tx, change: ConfigChange): Promise<number> {
  const revision = await bumpConfigRevision(tx, change.actor, change.summary);
  await appendAudit(tx, { ...change, configRevision: revision });
  return revision;
}
