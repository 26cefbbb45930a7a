/** Test helpers for the policy the runtime enforces: conversations and safe mode, as the console changes them. */
import { recordConfigChange, type Actor } from "@clawgate/core";
import type { Db } from "@clawgate/db";
import type { PolicyView } from "../src/policy/runtime.ts";
import { waitFor } from "./helpers.ts";

const TEST_ACTOR: Actor = { type: "SYSTEM", name: "test" };

/** Upserts the conversation with `status` and bumps the config revision (NOTIFY); returns the revision. */
export function setConversation(
  db: Db,
  conversationId: string,
  status: "ENABLED" | "DISABLED" | "PENDING" = "ENABLED",
): Promise<number> {
  return db.$transaction(async (tx) => {
    await tx.conversation.upsert({
      where: { conversationId },
      create: { conversationId, type: "GROUP", status },
      update: { status },
    });
    return recordConfigChange(tx, {
      actor: TEST_ACTOR,
      action: "conversation.update",
      targetType: "conversation",
      targetId: conversationId,
      summary: `conversation ${status}`,
    });
  });
}

/** Ends every activation, then (with `on`) opens one of scope "everything"; bumps the revision. */
export function setSafeMode(
  db: Db,
  on: { level: "READ_ONLY" | "MAINTENANCE"; message?: string; scopes?: string[] } | null,
): Promise<number> {
  return db.$transaction(async (tx) => {
    await tx.safeModeEvent.updateMany({ where: { endedAt: null, kind: "SAFE_MODE" }, data: { endedAt: new Date() } });
    if (on)
      await tx.safeModeEvent.create({
        data: {
          level: on.level,
          message: on.message ?? null,
          scopes: on.scopes ?? [],
          reason: "test",
          actorType: "SYSTEM",
          actorName: "test",
        },
      });
    return recordConfigChange(tx, {
      actor: TEST_ACTOR,
      action: "safe_mode.update",
      targetType: "safe_mode",
      summary: on ? `safe mode ${on.level}` : "safe mode off",
    });
  });
}

/** Waits until the view enforces `revision` (or later). */
export function untilApplied(view: PolicyView, revision: number, timeoutMs = 5_000): Promise<true> {
  return waitFor(
    async () => ((view.snapshot()?.revision ?? -1) >= revision ? true : undefined),
    timeoutMs,
    `policy revision ${revision}`,
  );
}

/** Enables every conversation and waits until the view has them. */
export async function enableConversations(db: Db, view: PolicyView, ...conversationIds: string[]): Promise<void> {
  let revision = 0;
  for (const id of conversationIds) revision = await setConversation(db, id);
  await untilApplied(view, revision);
}
