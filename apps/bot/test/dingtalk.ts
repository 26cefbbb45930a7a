/** Test helpers for DingTalk-shaped input: robot messages, signed HTTP callbacks, queue counts. */
import { randomUUID } from "node:crypto";
import { robotSign } from "@clawgate/dingtalk";
import { query } from "./helpers.ts";

export const APP_KEY = "ding-test-app";
export const APP_SECRET = "ding-test-secret";
export const TOKEN = "ding-test-token";
export const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"; // 43 chars

export function robotMessage(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Date.now();
  return {
    msgtype: "text",
    text: { content: " hello robot" },
    msgId: `msg-${randomUUID()}`,
    createAt: now,
    conversationType: "2",
    conversationId: `cid-${randomUUID()}`,
    conversationTitle: "Test group",
    senderId: "$:LWCP_v1:$sender",
    senderStaffId: "staff-1",
    senderNick: "Tester",
    chatbotUserId: "$:LWCP_v1:$bot",
    robotCode: APP_KEY,
    isInAtList: true,
    sessionWebhook: "https://oapi.dingtalk.com/robot/sendBySession?session=abc",
    sessionWebhookExpiredTime: now + 90 * 60_000,
    ...overrides,
  };
}

export function signedHeaders(timestamp = String(Date.now()), secret = APP_SECRET): Record<string, string> {
  return { timestamp, sign: robotSign(timestamp, secret), "content-type": "application/json" };
}

export async function counts(url: string): Promise<{ inbound: number; jobs: number }> {
  const [row] = await query<{ inbound: number; jobs: number }>(
    url,
    `SELECT (SELECT count(*)::int FROM "InboundMessage") AS inbound,
            (SELECT count(*)::int FROM graphile_worker.jobs WHERE task_identifier = 'inbound.handle') AS jobs`,
  );
  return row!;
}
