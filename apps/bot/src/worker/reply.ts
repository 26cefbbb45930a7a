/**
 * Sending a reply exactly once per idempotency key, through the best route DingTalk offers.
 *
 * Route: the message's sessionWebhook while it is valid (expiry more than a margin away) and
 * its host is in DINGTALK_WEBHOOK_HOSTS; else the OpenAPI robot send (group: the conversation;
 * one-to-one: the sender's staff id). A webhook refusing for good falls back to the OpenAPI.
 *
 * Idempotency: the `OutboundMessage` row (unique `idempotencyKey`) is inserted first, then
 * locked `FOR UPDATE` for the duration of the send. A concurrent or duplicated job waits on the
 * lock and then sees SENT; a retried job sees SENT and sends nothing. The window that remains:
 * the process dies (or the database goes away) after DingTalk accepted the message and before
 * the SENT commit, or the send times out after DingTalk delivered it. The row is then still
 * PENDING and the retry sends again: at-least-once there, since DingTalk's send APIs take no
 * idempotency key of ours.
 */
import { randomUUID } from "node:crypto";
import { storable } from "@clawgate/db/storable";
import { DingTalkApiError, type OutboundMessage, type RobotMessage } from "@clawgate/dingtalk";
import type pg from "pg";
import type { Throttle } from "./throttle.ts";

export type ReplyTarget =
  | { channel: "SESSION_WEBHOOK"; url: string }
  | { channel: "OPENAPI_GROUP"; openConversationId: string }
  | { channel: "OPENAPI_ONE_TO_ONE"; userIds: string[] };

export interface Senders {
  webhook(url: string, message: OutboundMessage): Promise<void>;
  /** Undefined when no DingTalk app credentials are configured. */
  openApi?: {
    sendToGroup(args: { robotCode: string; openConversationId: string; message: OutboundMessage }): Promise<unknown>;
    sendToUsers(args: { robotCode: string; userIds: string[]; message: OutboundMessage }): Promise<unknown>;
  };
}

/** A sessionWebhook this close to its expiry is not used: the send itself takes time. */
export const WEBHOOK_EXPIRY_MARGIN_MS = 30_000;

export function webhookAllowed(url: string, allowedHosts: readonly string[]): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === "https:" || u.protocol === "http:") && allowedHosts.includes(u.host.toLowerCase());
  } catch {
    return false;
  }
}

/** Every usable route for a reply to `msg`, best first. */
export function replyTargets(
  msg: RobotMessage,
  opts: { allowedHosts: readonly string[]; openApi: boolean; now: number },
): ReplyTarget[] {
  const targets: ReplyTarget[] = [];
  const { sessionWebhook: url, sessionWebhookExpiredTime: expires } = msg;
  if (
    url &&
    expires !== undefined &&
    expires > opts.now + WEBHOOK_EXPIRY_MARGIN_MS &&
    webhookAllowed(url, opts.allowedHosts)
  ) {
    targets.push({ channel: "SESSION_WEBHOOK", url });
  }
  if (opts.openApi) {
    if (msg.conversationType === "2")
      targets.push({ channel: "OPENAPI_GROUP", openConversationId: msg.conversationId });
    else if (msg.senderStaffId) targets.push({ channel: "OPENAPI_ONE_TO_ONE", userIds: [msg.senderStaffId] });
  }
  return targets;
}

/** The send is over quota: retry after `retryInMs` (the job is put back, not failed). */
export class ThrottledError extends Error {
  override name = "ThrottledError";
  constructor(
    readonly retryInMs: number,
    readonly scope: string,
  ) {
    super(`throttled (${scope}); retry in ${retryInMs} ms`);
  }
}

/** Every route failed. `permanent`: retrying will not help (DingTalk refused the message). */
export class SendFailedError extends Error {
  override name = "SendFailedError";
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

export type SendOutcome = "sent" | "already_sent" | "already_failed";

export interface SendReplyArgs {
  pool: pg.Pool;
  throttle: Throttle;
  senders: Senders;
  idempotencyKey: string;
  inboundId: string | null;
  robotCode: string;
  conversationId: string;
  traceId: string;
  targets: ReplyTarget[];
  message: OutboundMessage;
  /** DingTalk throttled us this many times already (for the back-off). */
  deferrals?: number;
}

/** One line about a send failure: status and code, never the URL (it carries a session token). */
function describe(error: unknown): string {
  if (error instanceof DingTalkApiError) return `DingTalkApiError status=${error.status} code=${error.code ?? "-"}`;
  return error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 300) : String(error).slice(0, 300);
}

function isPermanent(error: unknown): boolean {
  if (error instanceof SendFailedError) return error.permanent;
  if (!(error instanceof DingTalkApiError)) return false; // network, timeout, bugs: retry
  if (error.throttled) return false;
  return error.status >= 400 && error.status < 500 && error.status !== 408;
}

/** min(2 s * 2^n, 60 s) plus up to 1 s of jitter, for DingTalk's own "too fast" answers. */
export const throttleBackoffMs = (deferrals: number) =>
  Math.min(2_000 * 2 ** deferrals, 60_000) + Math.floor(Math.random() * 1_000);

async function sendTo(
  target: ReplyTarget,
  senders: Senders,
  robotCode: string,
  message: OutboundMessage,
): Promise<void> {
  if (target.channel === "SESSION_WEBHOOK") return senders.webhook(target.url, message);
  if (!senders.openApi) throw new SendFailedError("no DingTalk app credentials for the OpenAPI send", true);
  if (target.channel === "OPENAPI_GROUP") {
    await senders.openApi.sendToGroup({ robotCode, openConversationId: target.openConversationId, message });
  } else {
    await senders.openApi.sendToUsers({ robotCode, userIds: target.userIds, message });
  }
}

export async function sendReply(
  args: SendReplyArgs,
): Promise<{ outcome: SendOutcome; channel?: ReplyTarget["channel"] }> {
  const { pool, idempotencyKey: key, targets } = args;
  // What is stored is what is sent: the text made storable (NUL removed, lone surrogates
  // replaced) is also what DingTalk gets.
  const message = storable(args.message);
  const first = targets[0];
  if (!first) throw new SendFailedError("no route to reply on (sessionWebhook unusable, no OpenAPI route)", true);

  await pool.query(
    `INSERT INTO "OutboundMessage" ("id", "idempotencyKey", "inboundMessageId", "conversationId", "channel", "msgType", "payload", "traceId")
     VALUES ($1, $2, $3, $4, $5::"OutboundChannel", $6, $7::jsonb, $8)
     ON CONFLICT ("idempotencyKey") DO NOTHING`,
    [
      randomUUID(),
      key,
      args.inboundId,
      args.conversationId,
      first.channel,
      message.msgtype,
      JSON.stringify(message),
      args.traceId,
    ],
  );

  const client = await pool.connect();
  let open = false;
  try {
    await client.query("BEGIN");
    open = true;
    // Wait for a concurrent sender of the same key (its send is bounded by the HTTP timeout).
    await client.query("SET LOCAL lock_timeout = '30s'");
    const { rows } = await client.query<{ status: string }>(
      `SELECT "status" FROM "OutboundMessage" WHERE "idempotencyKey" = $1 FOR UPDATE`,
      [key],
    );
    const status = rows[0]?.status;
    if (status === "SENT" || status === "FAILED") {
      await client.query("COMMIT");
      open = false;
      return { outcome: status === "SENT" ? "already_sent" : "already_failed" };
    }

    const quota = await args.throttle.take(args.robotCode, args.conversationId);
    if (!quota.ok) throw new ThrottledError(quota.retryInMs, quota.scope);

    let lastError: unknown;
    for (const target of targets) {
      try {
        await sendTo(target, args.senders, args.robotCode, message);
        await client.query(
          `UPDATE "OutboundMessage" SET "status" = 'SENT', "sentAt" = now(), "attempts" = "attempts" + 1,
             "channel" = $2::"OutboundChannel", "lastError" = NULL WHERE "idempotencyKey" = $1`,
          [key, target.channel],
        );
        await client.query("COMMIT");
        open = false;
        return { outcome: "sent", channel: target.channel };
      } catch (error) {
        lastError = error;
        // Only a definite refusal moves on to the next route; anything else may have been sent.
        if (!isPermanent(error)) break;
      }
    }

    const permanent = isPermanent(lastError);
    await client.query(
      `UPDATE "OutboundMessage" SET "attempts" = "attempts" + 1, "lastError" = $2,
         "status" = $3::"OutboundStatus" WHERE "idempotencyKey" = $1`,
      [key, describe(lastError), permanent ? "FAILED" : "PENDING"],
    );
    await client.query("COMMIT");
    open = false;
    if (lastError instanceof DingTalkApiError && lastError.throttled) {
      throw new ThrottledError(throttleBackoffMs(args.deferrals ?? 0), "dingtalk");
    }
    throw new SendFailedError(describe(lastError), permanent);
  } finally {
    if (open) await client.query("ROLLBACK").catch(() => {});
    client.release();
  }
}
