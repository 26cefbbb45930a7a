/**
 * What `group.announce` does in the runtime: a markdown message from the robot into a DingTalk
 * group, through the OpenAPI group send (`groupMessages/send`), never through a sessionWebhook
 * (that would only reach the conversation the request came from).
 *
 * A group send is a write, so besides the policy (the skill needs an approver's grant unless an
 * admin turned that off) it is:
 * - limited to groups the robot knows and is enabled in (a Conversation row of type GROUP,
 *   status ENABLED): the robot never posts into a chat it was not let into;
 * - throttled per target group (ANNOUNCE_LIMIT, shared by every replica through PostgreSQL), on
 *   top of the outbound limits every send has (per robot and per conversation, `throttle.ts`);
 * - sent once per request: the OutboundMessage key is `announce:<traceId>` (the approval's
 *   `<traceId>:<requestId>`), so a retried job finds it SENT and sends nothing;
 * - audited (`message.announce`, actor RUNTIME: target group, channel, lengths, trace id; never
 *   the text) before the send, so an attempt that dies halfway is on record.
 */
import { appendAudit } from "@clawgate/core";
import { dataKeysOf, type Db } from "@clawgate/db";
import { markdownReply } from "@clawgate/dingtalk";
import type pg from "pg";
import { RateLimiterRes } from "rate-limiter-flexible";
import { RUNTIME_ACTOR } from "../runtime-actor.ts";
import { sendReply, ThrottledError, type Senders } from "./reply.ts";
import { sharedLimiter, type Throttle } from "./throttle.ts";

/** Announcements per target group per hour, across replicas. */
export const ANNOUNCE_LIMIT = { points: 5, durationSec: 3_600 };

export interface AnnounceDeps {
  db: Db;
  pool: pg.Pool;
  throttle: Throttle;
  senders: Senders;
  /** The robot that posts when the group's row names none (DINGTALK_APP_KEY). */
  defaultRobotCode?: string | undefined;
  limit?: { points: number; durationSec: number };
  /** The shared limiter's key space (default "announce"). */
  limiterName?: string;
}

/** One request's announcement: what `SkillContext.announce` is bound to. */
export type Announce = (conversationId: string, title: string, text: string) => Promise<void>;

/** The announcement was refused before anything was sent; the message says why (the skill's error). */
export class AnnounceRefusedError extends Error {
  override name = "AnnounceRefusedError";
}

const minutes = (ms: number) => Math.max(1, Math.ceil(ms / 60_000));

export function createAnnouncer(deps: AnnounceDeps): (traceId: string) => Announce {
  const limit = deps.limit ?? ANNOUNCE_LIMIT;
  const limiter = sharedLimiter(deps.pool, deps.limiterName ?? "announce", limit);

  return (traceId) => async (conversationId, title, text) => {
    const key = `announce:${traceId}`;
    const conversation = await deps.db.conversation.findUnique({
      where: { conversationId },
      select: { type: true, status: true, robotCode: true },
    });
    if (!conversation)
      throw new AnnounceRefusedError(
        `the robot does not know the group "${conversationId}" (a group appears once someone messages the robot there)`,
      );
    if (conversation.type !== "GROUP")
      throw new AnnounceRefusedError(`"${conversationId}" is a single chat, not a group`);
    if (conversation.status !== "ENABLED")
      throw new AnnounceRefusedError(
        `the robot is not enabled in the group "${conversationId}"; an admin can enable it in the console`,
      );
    const robotCode = conversation.robotCode ?? deps.defaultRobotCode;
    if (!deps.senders.openApi || !robotCode)
      throw new AnnounceRefusedError(
        "group sends need the DingTalk app's credentials (DINGTALK_APP_KEY, DINGTALK_APP_SECRET)",
      );

    const { rows } = await deps.pool.query<{ status: string }>(
      `SELECT "status" FROM "OutboundMessage" WHERE "idempotencyKey" = $1`,
      [key],
    );
    if (rows[0]?.status === "SENT") return; // a retry of a request whose announcement went out
    if (!rows[0]) {
      try {
        await limiter.consume(conversationId);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        throw new AnnounceRefusedError(
          `the group "${conversationId}" had ${limit.points} announcements in the last ${minutes(limit.durationSec * 1_000)} min already; try again in ${minutes(rejection.msBeforeNext)} min`,
        );
      }
      await deps.db.$transaction((tx) =>
        appendAudit(tx, {
          actor: RUNTIME_ACTOR,
          action: "message.announce",
          targetType: "conversation",
          targetId: conversationId,
          diff: { skill: "group.announce", channel: "OPENAPI_GROUP", titleChars: title.length, textChars: text.length },
          traceId,
        }),
      );
    }

    try {
      const { outcome } = await sendReply({
        pool: deps.pool,
        keys: dataKeysOf(deps.db),
        throttle: deps.throttle,
        senders: deps.senders,
        idempotencyKey: key,
        inboundId: null,
        robotCode,
        conversationId,
        traceId,
        targets: [{ channel: "OPENAPI_GROUP", openConversationId: conversationId }],
        message: markdownReply(title, text),
      });
      if (outcome === "already_failed") throw new Error("DingTalk refused this announcement earlier");
    } catch (error) {
      if (error instanceof ThrottledError) {
        throw new Error(
          `DingTalk's send limit for "${conversationId}" is reached; try again in ${Math.ceil(error.retryInMs / 1_000)} s`,
        );
      }
      throw error;
    }
  };
}
