/**
 * `clawgate send --to CONVERSATION --text TEXT`: a message from the robot into a conversation it
 * knows, through DingTalk's OpenAPI robot send (group chat: groupMessages/send; single chat:
 * oToMessages/batchSend to the user who last wrote there). Needs the database and the app
 * credentials, not a running runtime.
 *
 * Recorded like every other send and audited as a CLI actor: the OutboundMessage row and the
 * audit entry ("message.send": channel and length, never the text) commit BEFORE the send, so an
 * attempt that dies halfway is still on record; the row then becomes SENT or FAILED.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import type { Actor } from "@clawgate/core";
import { createDb, storable } from "@clawgate/db";
import { DingTalkApiError, DingTalkOpenApi, robotMessageSchema, textReply } from "@clawgate/dingtalk";
import { describeDbError } from "../db-checks.ts";
import { DEMO_CONVERSATION } from "./say.ts";
import { envOrExit } from "./env-or-exit.ts";

/** DingTalk's text messages stay well below its 15,000-byte msgParam cap at this length. */
export const MAX_SEND_CHARS = 4_000;

function sendActor(): Actor {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers).
  }
  const id = `${user}@${hostname()}`;
  return { type: "CLI", id, name: `clawgate send (${id})` };
}

const fail = (message: string, code = 1): number => {
  console.error(`clawgate send: ${message}`);
  return code;
};

function describeSendError(error: unknown): string {
  if (error instanceof DingTalkApiError) {
    return `DingTalk refused the send (HTTP ${error.status}${error.code ? `, ${error.code}` : ""}): ${error.message}`.slice(
      0,
      300,
    );
  }
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}

export async function send(opts: { to: string; text: string }): Promise<number> {
  const conversationId = opts.to.trim() === "demo" ? DEMO_CONVERSATION : opts.to.trim();
  const text = opts.text.trim();
  if (!conversationId) return fail("--to needs a conversation id", 2);
  if (!text) return fail("--text is empty", 2);
  if (text.length > MAX_SEND_CHARS) return fail(`--text is ${text.length} characters; at most ${MAX_SEND_CHARS}`, 2);

  const env = envOrExit([
    "DATABASE_URL",
    "DINGTALK_APP_KEY",
    "DINGTALK_APP_SECRET",
    "DINGTALK_API_BASE",
    "CLAWGATE_DATA_KEYS",
  ]);
  if (!env.DINGTALK_APP_KEY || !env.DINGTALK_APP_SECRET) {
    return fail(
      "DINGTALK_APP_KEY and DINGTALK_APP_SECRET are required (the OpenAPI robot send uses the app's credentials)",
    );
  }
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2, dataKeys: env.CLAWGATE_DATA_KEYS });
  try {
    const conversation = await db.conversation.findUnique({
      where: { conversationId },
      select: { type: true, robotCode: true },
    });
    if (!conversation) {
      return fail(
        `unknown conversation "${conversationId}": the robot has not seen it (a conversation appears once someone messages the robot there; the console lists them under Conversations)`,
      );
    }
    const robotCode = conversation.robotCode ?? env.DINGTALK_APP_KEY;
    let userIds: string[] | undefined;
    if (conversation.type === "SINGLE") {
      // A single chat is addressed by its user: the staff id of the last message stored there.
      const last = await db.inboundMessage.findFirst({
        where: { conversationId },
        orderBy: { receivedAt: "desc" },
        select: { payload: true },
      });
      const staffId = last ? robotMessageSchema.safeParse(last.payload).data?.senderStaffId : undefined;
      if (!staffId)
        return fail(
          `"${conversationId}" is a single chat and no stored message names its user (messages are kept for the retention period of "messages"); nothing sent`,
        );
      userIds = [staffId];
    }

    // Stored and sent the same: made storable (NUL removed, lone surrogates replaced).
    const message = storable(textReply(text));
    const channel = userIds ? "OPENAPI_ONE_TO_ONE" : "OPENAPI_GROUP";
    const traceId = randomBytes(16).toString("hex");
    const key = `cli:${randomUUID()}`;
    const { appendAudit } = await import("@clawgate/core");
    await db.$transaction(async (tx) => {
      await tx.outboundMessage.create({
        data: {
          idempotencyKey: key,
          conversationId,
          channel,
          msgType: message.msgtype,
          payload: message as object,
          traceId,
        },
      });
      await appendAudit(tx, {
        actor: sendActor(),
        action: "message.send",
        targetType: "conversation",
        targetId: conversationId,
        diff: { channel, chars: text.length },
        traceId,
      });
    });

    const openApi = new DingTalkOpenApi({
      appKey: env.DINGTALK_APP_KEY,
      appSecret: env.DINGTALK_APP_SECRET,
      baseUrl: env.DINGTALK_API_BASE,
      timeoutMs: 10_000,
    });
    try {
      if (userIds) await openApi.sendToUsers({ robotCode, userIds, message });
      else await openApi.sendToGroup({ robotCode, openConversationId: conversationId, message });
    } catch (error) {
      const reason = describeSendError(error);
      await db.outboundMessage
        .update({ where: { idempotencyKey: key }, data: { status: "FAILED", attempts: 1, lastError: reason } })
        .catch(() => {});
      return fail(`not sent: ${reason}`);
    }
    await db.outboundMessage.update({
      where: { idempotencyKey: key },
      data: { status: "SENT", attempts: 1, sentAt: new Date() },
    });
    console.log(
      `Sent to ${conversationId} (${channel === "OPENAPI_GROUP" ? "group" : "single chat"}, trace ${traceId}).`,
    );
    return 0;
  } catch (error) {
    return fail(`failed: ${describeDbError(error)}`);
  } finally {
    await db.$disconnect();
  }
}
