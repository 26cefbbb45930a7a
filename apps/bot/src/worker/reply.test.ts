import type { RobotMessage } from "@clawgate/dingtalk";
import { describe, expect, it } from "vitest";
import { robotMessage } from "../../test/dingtalk.ts";
import { turnText } from "./handle-inbound.ts";
import { replyTargets, throttleBackoffMs, WEBHOOK_EXPIRY_MARGIN_MS, webhookAllowed } from "./reply.ts";

const NOW = 1_800_000_000_000;
const msg = (o: Record<string, unknown> = {}) =>
  robotMessage({ sessionWebhookExpiredTime: NOW + 60 * 60_000, ...o }) as RobotMessage;
const opts = { allowedHosts: ["oapi.dingtalk.com", "127.0.0.1:3200"], openApi: true, now: NOW };

describe("webhookAllowed", () => {
  it("matches host and port exactly", () => {
    expect(webhookAllowed("https://oapi.dingtalk.com/robot/sendBySession?session=x", opts.allowedHosts)).toBe(true);
    expect(webhookAllowed("https://OAPI.dingtalk.com/robot", opts.allowedHosts)).toBe(true);
    expect(webhookAllowed("http://127.0.0.1:3200/robot", opts.allowedHosts)).toBe(true);
    expect(webhookAllowed("http://127.0.0.1:3201/robot", opts.allowedHosts)).toBe(false);
    expect(webhookAllowed("https://oapi.dingtalk.com.evil.example/robot", opts.allowedHosts)).toBe(false);
    expect(webhookAllowed("https://user@evil.example/oapi.dingtalk.com", opts.allowedHosts)).toBe(false);
    expect(webhookAllowed("file:///etc/passwd", opts.allowedHosts)).toBe(false);
    expect(webhookAllowed("not a url", opts.allowedHosts)).toBe(false);
  });
});

describe("replyTargets", () => {
  it("prefers a valid, allowed sessionWebhook, with the OpenAPI as fallback", () => {
    expect(replyTargets(msg(), opts).map((t) => t.channel)).toEqual(["SESSION_WEBHOOK", "OPENAPI_GROUP"]);
  });

  it("skips a webhook that expires within the margin, or on a host not allowed", () => {
    const soon = msg({ sessionWebhookExpiredTime: NOW + WEBHOOK_EXPIRY_MARGIN_MS });
    expect(replyTargets(soon, opts)).toEqual([{ channel: "OPENAPI_GROUP", openConversationId: soon.conversationId }]);
    const elsewhere = msg({ sessionWebhook: "https://example.com/robot" });
    expect(replyTargets(elsewhere, opts).map((t) => t.channel)).toEqual(["OPENAPI_GROUP"]);
    expect(replyTargets(msg({ sessionWebhook: undefined }), opts).map((t) => t.channel)).toEqual(["OPENAPI_GROUP"]);
  });

  it("sends one-to-one to the sender's staff id, and has no OpenAPI route without one or without credentials", () => {
    const single = msg({ conversationType: "1", sessionWebhookExpiredTime: NOW - 1 });
    expect(replyTargets(single, opts)).toEqual([{ channel: "OPENAPI_ONE_TO_ONE", userIds: ["staff-1"] }]);
    expect(
      replyTargets(msg({ conversationType: "1", senderStaffId: undefined, sessionWebhookExpiredTime: NOW - 1 }), opts),
    ).toEqual([]);
    expect(replyTargets(msg({ sessionWebhookExpiredTime: NOW - 1 }), { ...opts, openApi: false })).toEqual([]);
  });
});

describe("turnText", () => {
  it("gives the model the trimmed text, and a note for what it cannot read", () => {
    expect(turnText(msg({ text: { content: " 你好, robot " } }))).toBe("你好, robot");
    expect(turnText(msg({ text: { content: "   " } }))).toBe(
      "[The user mentioned the robot without writing anything.]",
    );
    expect(turnText(msg({ msgtype: "picture", text: undefined, content: { downloadCode: "x" } }))).toBe(
      "[The user sent a picture message, which the robot cannot read yet.]",
    );
    expect(turnText(msg({ msgtype: "interactiveCard", text: undefined, content: {} }))).toBe(
      "[The user sent an interactiveCard message, which the robot cannot read yet.]",
    );
  });

  it("reads rich text (noting its pictures) and voice messages (as a transcript)", () => {
    const rich = (richText: unknown[]) => msg({ msgtype: "richText", text: undefined, content: { richText } });
    expect(turnText(rich([{ text: "is this broken?" }, { type: "picture", downloadCode: "d1" }]))).toBe(
      "is this broken?\n[The message also has a picture, which the robot cannot see yet.]",
    );
    expect(
      turnText(
        rich([{ text: "two" }, { type: "picture", downloadCode: "d1" }, { type: "picture", downloadCode: "d2" }]),
      ),
    ).toBe("two\n[The message also has 2 pictures, which the robot cannot see yet.]");
    expect(turnText(rich([{ text: "just text" }]))).toBe("just text");
    expect(turnText(rich([{ type: "picture", downloadCode: "d1" }]))).toBe(
      "[The message has a picture, which the robot cannot see yet.]",
    );
    expect(turnText(rich([]))).toBe("[The user sent a richText message, which the robot cannot read yet.]");
    expect(turnText(msg({ msgtype: "audio", text: undefined, content: { recognition: "明天开会吗" } }))).toBe(
      "[A voice message; DingTalk's transcript follows.]\n明天开会吗",
    );
    expect(turnText(msg({ msgtype: "audio", text: undefined, content: {} }))).toBe(
      "[The user sent an audio message, which the robot cannot read yet.]",
    );
  });
});

describe("throttleBackoffMs", () => {
  it("doubles from 2 s up to 60 s, with under 1 s of jitter", () => {
    for (const [n, base] of [
      [0, 2_000],
      [1, 4_000],
      [4, 32_000],
      [5, 60_000],
      [20, 60_000],
    ] as const) {
      const ms = throttleBackoffMs(n);
      expect(ms).toBeGreaterThanOrEqual(base);
      expect(ms).toBeLessThan(base + 1_000);
    }
  });
});
