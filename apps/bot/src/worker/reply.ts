/**
 * Sending a reply exactly once per idempotency key, through the best route DingTalk offers.
 *
 * Route: the message's sessionWebhook while it is valid (expiry more than a margin away) and
 * its host is in DINGTALK_WEBHOOK_HOSTS; else the OpenAPI robot send (group: the conversation;
 * one-to-one: the sender's staff id). A webhook refusing for good falls back to the OpenAPI.
 *
 * Idempotency: the `OutboundMessage` row (unique `idempotencyKey`) is inserted first. Before the
 * HTTP send the row is claimed: PENDING -> SENDING (`sendingAt`), a committed statement of its
 * own, so the claim survives whatever happens next. DingTalk's answer decides the rest: accepted
 * -> SENT (retried for minutes if the database is away: DingTalk has the message, so it must
 * never be sent again); a definite refusal -> FAILED; DingTalk's answer without acceptance (it
 * throttled us, answered 5xx) or a connection that was never made -> PENDING, and the job
 * retries; no answer although the request may have arrived (a timeout, a connection broken after
 * the request was written) -> UNCONFIRMED, not resent, as DingTalk's send APIs take no
 * idempotency key of ours (bench/faults found timeouts under load doubling replies).
 *
 * A row found SENDING means another attempt is sending it, or was and vanished (its replica was
 * killed, or lost the database, between the claim and the mark): whether DingTalk got the
 * message is then unknown. While the claim is younger than the longest a send can take
 * (`SENDING_STALE_MS`) the sender waits a moment for it (a duplicate job racing this one) and
 * then puts the job back to look again in a few seconds; after that the row is marked
 * UNCONFIRMED and nothing is resent (at-most-once for a vanished sender: a replica dying in the
 * few milliseconds between its claim and DingTalk receiving the request loses that reply, where
 * resending would duplicate every reply whose request was already out). Counted as outcome
 * "unconfirmed" on `clawgate_outbound_messages_total`. Before this, the send ran inside a
 * transaction holding the row's lock and SENT was written in it: a database stall or a killed
 * replica after DingTalk accepted rolled the row back to PENDING and the rerun sent it again
 * (the duplicates bench/faults found).
 */
import { randomUUID } from "node:crypto";
import { maskPersonalData } from "@clawgate/db/personal-data";
import { sealJson, type KeyRing } from "@clawgate/db/crypto";
import { storable } from "@clawgate/db/storable";
import { DEFAULT_TIMEOUT_MS, DingTalkApiError, type OutboundMessage, type RobotMessage } from "@clawgate/dingtalk";
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

export type SendOutcome = "sent" | "already_sent" | "already_failed" | "unconfirmed";

/**
 * A SENDING claim younger than this may still have its sender waiting for DingTalk (an OpenAPI
 * send can take a token request and the send, each up to DEFAULT_TIMEOUT_MS), so it is not
 * judged yet; older, its sender is gone.
 */
export const SENDING_STALE_MS = 2 * DEFAULT_TIMEOUT_MS + 10_000;

/** How long a sender keeps trying to record SENT after DingTalk accepted (database away). */
export const SENT_MARK_RETRY_MS = 5 * 60_000;

export interface SendReplyArgs {
  pool: pg.Pool;
  /** The data key ring the stored payload is sealed with (dataKeysOf(db)). */
  keys: KeyRing | null;
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
  return maskPersonalData(error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 300);
}

function isPermanent(error: unknown): boolean {
  if (error instanceof SendFailedError) return error.permanent;
  if (!(error instanceof DingTalkApiError)) return false; // network, timeout, bugs: retry
  if (error.throttled) return false;
  return error.status >= 400 && error.status < 500 && error.status !== 408;
}

/** Errors before the request left this host: the connection was never made, nothing was sent. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/**
 * No answer from DingTalk and the request may have been delivered: a timeout, or a network error
 * other than a connection that was never made (a reset or close after the request was written).
 */
export function outcomeUnknown(error: unknown): boolean {
  if (!(error instanceof DingTalkApiError) || error.status !== 0) return false;
  if (error.code === "timeout") return true;
  if (error.code !== "network") return false;
  let cause: unknown = error.cause;
  for (let depth = 0; cause instanceof Error && depth < 4; depth++) {
    const code = (cause as Error & { code?: unknown }).code;
    if (typeof code === "string" && NOT_SENT_CODES.has(code)) return false;
    cause = cause.cause;
  }
  return true;
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

/** Retries `fn` (a statement that must land) with back-off until it succeeds or `forMs` passed. */
async function persist<T>(fn: () => Promise<T>, forMs: number): Promise<T> {
  const until = Date.now() + forMs;
  for (let wait = 100; ; wait = Math.min(wait * 2, 5_000)) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() + wait > until) throw error;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

const CLAIM = `
UPDATE "OutboundMessage" SET "status" = 'SENDING', "sendingAt" = now(), "attempts" = "attempts" + 1
 WHERE "idempotencyKey" = $1 AND "status" = 'PENDING' RETURNING "id"`;
/** The row's status, and for SENDING how long ago it was claimed (database clock). */
const STATUS = `
SELECT "status"::text AS "status", (extract(epoch FROM now() - "sendingAt") * 1000)::float8 AS "claimedMs"
  FROM "OutboundMessage" WHERE "idempotencyKey" = $1`;
/** A vanished sender's claim: marked UNCONFIRMED once (RETURNING: whether this call marked it). */
const UNCONFIRM = `
UPDATE "OutboundMessage" SET "status" = 'UNCONFIRMED', "lastError" = 'sender vanished after claiming the send; not resent'
 WHERE "idempotencyKey" = $1 AND "status" = 'SENDING' AND "sendingAt" <= now() - make_interval(secs => $2::float8 / 1000)
 RETURNING "id"`;

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
      JSON.stringify(sealJson(args.keys, message)),
      args.traceId,
    ],
  );

  const current = (await pool.query<{ status: string; claimedMs: number | null }>(STATUS, [key])).rows[0];
  if (current?.status === "SENT") return { outcome: "already_sent" };
  if (current?.status === "FAILED") return { outcome: "already_failed" };
  if (current?.status === "UNCONFIRMED") return { outcome: "unconfirmed" };
  if (current?.status === "SENDING") return judgeClaim(pool, key, current.claimedMs ?? 0);

  // The quota first: a refusal leaves the row PENDING, with nothing to undo.
  const quota = await args.throttle.take(args.robotCode, args.conversationId);
  if (!quota.ok) throw new ThrottledError(quota.retryInMs, quota.scope);
  // Committed before the send: from here on a rerun knows a send may be out.
  if ((await pool.query(CLAIM, [key])).rowCount === 0) {
    const raced = (await pool.query<{ status: string; claimedMs: number | null }>(STATUS, [key])).rows[0];
    if (raced?.status === "SENDING") return judgeClaim(pool, key, raced.claimedMs ?? 0);
    return { outcome: raced?.status === "FAILED" ? "already_failed" : "already_sent" };
  }

  let lastError: unknown;
  for (const target of targets) {
    try {
      await sendTo(target, args.senders, args.robotCode, message);
    } catch (error) {
      lastError = error;
      // Only a definite refusal moves on to the next route; anything else may have been sent.
      if (!isPermanent(error)) break;
      continue;
    }
    // DingTalk has it. SENT must land; whatever else happens, this message is not sent again.
    await persist(
      () =>
        pool.query(
          `UPDATE "OutboundMessage" SET "status" = 'SENT', "sentAt" = now(), "channel" = $2::"OutboundChannel",
             "lastError" = NULL WHERE "idempotencyKey" = $1 AND "status" IN ('SENDING', 'UNCONFIRMED')`,
          [key, target.channel],
        ),
      SENT_MARK_RETRY_MS,
    );
    return { outcome: "sent", channel: target.channel };
  }

  if (outcomeUnknown(lastError)) {
    // The request may have reached DingTalk (it timed out, or the connection broke after it was
    // written): the same rule as a vanished sender, not resent.
    await persist(
      () =>
        pool.query(
          `UPDATE "OutboundMessage" SET "status" = 'UNCONFIRMED', "lastError" = $2
            WHERE "idempotencyKey" = $1 AND "status" = 'SENDING'`,
          [key, `${describe(lastError)}; outcome unknown, not resent`],
        ),
      SENT_MARK_RETRY_MS,
    );
    return { outcome: "unconfirmed" };
  }
  const permanent = isPermanent(lastError);
  // Not accepted: back to PENDING for the retry (or FAILED). If this cannot be written, the row
  // stays SENDING and a rerun marks it UNCONFIRMED: a lost reply, never a doubled one.
  await persist(
    () =>
      pool.query(
        `UPDATE "OutboundMessage" SET "lastError" = $2, "status" = $3::"OutboundStatus"
          WHERE "idempotencyKey" = $1 AND "status" = 'SENDING'`,
        [key, describe(lastError), permanent ? "FAILED" : "PENDING"],
      ),
    30_000,
  );
  if (lastError instanceof DingTalkApiError && lastError.throttled) {
    throw new ThrottledError(throttleBackoffMs(args.deferrals ?? 0), "dingtalk");
  }
  throw new SendFailedError(describe(lastError), permanent);
}

/** How long a sender waits for a concurrent sender's claim to resolve before putting its job back. */
export const CLAIM_WAIT_MS = 3_000;

/**
 * A row another attempt claimed. A concurrent sender (a duplicate job) usually finishes within
 * milliseconds: wait up to CLAIM_WAIT_MS for the row to leave SENDING. Still SENDING and younger
 * than SENDING_STALE_MS: the job is put back to look again shortly (like a throttled send). Older:
 * its sender is gone: UNCONFIRMED.
 */
async function judgeClaim(
  pool: pg.Pool,
  key: string,
  claimedMs: number,
): Promise<{ outcome: SendOutcome; channel?: ReplyTarget["channel"] }> {
  const until = Date.now() + CLAIM_WAIT_MS;
  let age = claimedMs;
  while (age < SENDING_STALE_MS) {
    if (Date.now() >= until) {
      throw new ThrottledError(Math.min(Math.ceil(SENDING_STALE_MS - age) + 1_000, 5_000), "sending");
    }
    await new Promise((r) => setTimeout(r, 100));
    const now = (await pool.query<{ status: string; claimedMs: number | null }>(STATUS, [key])).rows[0];
    if (now?.status === "SENT") return { outcome: "already_sent" };
    if (now?.status === "FAILED") return { outcome: "already_failed" };
    if (now?.status === "UNCONFIRMED") return { outcome: "unconfirmed" };
    // Back to PENDING (not accepted): the job retries the send, as if it had failed itself.
    if (now?.status !== "SENDING") throw new ThrottledError(1_000, "sending");
    age = now.claimedMs ?? age;
  }
  await pool.query(UNCONFIRM, [key, SENDING_STALE_MS]);
  const after = (await pool.query<{ status: string }>(STATUS, [key])).rows[0]?.status;
  if (after === "SENT") return { outcome: "already_sent" };
  if (after === "FAILED") return { outcome: "already_failed" };
  return { outcome: "unconfirmed" };
}
