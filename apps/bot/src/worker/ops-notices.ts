/**
 * Safe-mode and kill-switch notices to the ops chats (`ops_chats` in the onboard file, purpose
 * "incidents"). Core writes an OpsNotice row in the transaction of each change (on, change, off,
 * expiry, kill switch); this sweep, run by one queue worker at a time (one job key), sends each
 * through the announcer (OpenAPI group send) and marks it sent.
 *
 * Exactly once per event: the notice row is locked (FOR UPDATE SKIP LOCKED) while it is sent, and
 * each chat's send has its own OutboundMessage key (`announce:ops:<notice>:<chat>`), so a sweep
 * that dies after some sends and is retried sends only what is missing. A chat the announcer
 * refuses (unknown, not an enabled group, no credentials) is logged and skipped, not retried.
 */
import type { Db } from "@clawgate/db";
import { closeExpiredSafeMode, incidentChats } from "@clawgate/core/safe-mode.ts";
import type { Logger } from "../logger.ts";
import { AnnounceRefusedError, type Announce } from "./announce.ts";

export const SAFE_MODE_SWEEP_TASK = "safe_mode.sweep";

/** Closes expired activations, then sends what is pending. Returns how many notices were sent. */
export async function sweepSafeMode(
  db: Db,
  announce: (traceId: string) => Announce,
  logger: Logger,
  now: Date = new Date(),
): Promise<number> {
  const log = logger.child({ component: "ops-notices" });
  const closed = await closeExpiredSafeMode(db, now);
  if (closed.length > 0) log.info({ closed }, "expired safe-mode activations closed");
  const pending = await db.opsNotice.count({ where: { sentAt: null } });
  if (pending === 0) return 0;
  const chats = await incidentChats(db);
  let sent = 0;
  for (;;) {
    const done = await db.$transaction(
      async (tx) => {
        const [notice] = await tx.$queryRaw<{ id: string; title: string; text: string }[]>`
          SELECT id, title, text FROM "OpsNotice" WHERE "sentAt" IS NULL
          ORDER BY "createdAt", id LIMIT 1 FOR UPDATE SKIP LOCKED`;
        if (!notice) return false;
        for (const chat of chats) {
          try {
            await announce(`ops:${notice.id}:${chat}`)(chat, notice.title, notice.text);
          } catch (error) {
            if (!(error instanceof AnnounceRefusedError)) throw error;
            log.warn({ chat, reason: error.message }, "ops chat not told about safe mode");
          }
        }
        await tx.opsNotice.update({ where: { id: notice.id }, data: { sentAt: new Date() } });
        return true;
      },
      { timeout: 120_000 },
    );
    if (!done) return sent;
    sent++;
  }
}
