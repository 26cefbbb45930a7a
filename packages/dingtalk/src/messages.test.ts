import { describe, expect, it } from "vitest";
import {
  eventEnvelopeSchema,
  isKnownMessage,
  KNOWN_MSGTYPES,
  messageText,
  robotMessageSchema,
  ROBOT_TOPIC,
  streamFrameSchema,
  MAX_ID_LENGTH,
} from "./messages.ts";

const base = {
  msgId: "msgAbc==",
  createAt: 1_700_000_000_000,
  conversationType: "2",
  conversationId: "cidXYZ==",
  conversationTitle: "Ops",
  senderId: "$:LWCP_v1:$abc",
  senderStaffId: "manager123",
  senderNick: "Li Lei",
  senderCorpId: "ding123",
  chatbotUserId: "$:LWCP_v1:$bot",
  robotCode: "dingappkey",
  isAdmin: false,
  isInAtList: true,
  atUsers: [{ dingtalkId: "$:LWCP_v1:$bot" }, { dingtalkId: "$:LWCP_v1:$u2", staffId: "u2" }],
  sessionWebhook: "https://oapi.dingtalk.com/robot/sendBySession?session=xyz",
  sessionWebhookExpiredTime: 1_700_005_400_000,
};

const samples = {
  text: { ...base, msgtype: "text", text: { content: " hello robot " } },
  picture: { ...base, msgtype: "picture", content: { downloadCode: "dc1", pictureDownloadCode: "pdc1" } },
  richText: {
    ...base,
    msgtype: "richText",
    content: { richText: [{ text: "look" }, { type: "picture", downloadCode: "dc2" }] },
  },
  audio: { ...base, msgtype: "audio", content: { downloadCode: "dc3", duration: 4000, recognition: "你好" } },
  video: { ...base, msgtype: "video", content: { downloadCode: "dc4", duration: 12, videoType: "mp4" } },
  file: { ...base, msgtype: "file", content: { downloadCode: "dc5", fileName: "report.pdf", spaceId: "s1" } },
} as const;

describe("robotMessageSchema", () => {
  it.each(Object.entries(samples))("parses a %s message", (type, sample) => {
    const parsed = robotMessageSchema.parse(sample);
    expect(parsed.msgtype).toBe(type);
    expect(parsed).toEqual(sample);
  });

  it("parses a minimal one-to-one message", () => {
    const parsed = robotMessageSchema.parse({
      msgId: "m",
      createAt: 1,
      conversationType: "1",
      conversationId: "c",
      senderId: "s",
      msgtype: "text",
      text: { content: "hi" },
    });
    expect(parsed.conversationType).toBe("1");
  });

  it("keeps fields it does not know", () => {
    const parsed = robotMessageSchema.parse({
      ...samples.text,
      senderUnionId: "union",
      newField: { a: 1 },
      text: { content: "x", extra: true },
    });
    expect(parsed).toMatchObject({ senderUnionId: "union", newField: { a: 1 }, text: { content: "x", extra: true } });
  });

  it.each(["msgId", "conversationId", "senderId", "createAt", "msgtype"])("rejects a message without %s", (field) => {
    const copy: Record<string, unknown> = { ...samples.text };
    delete copy[field];
    expect(robotMessageSchema.safeParse(copy).success).toBe(false);
  });

  it("rejects empty ids, a bad conversationType, a msgtype that is not a type name, and a known type with a malformed body", () => {
    expect(robotMessageSchema.safeParse({ ...samples.text, msgId: "" }).success).toBe(false);
  });

  it.each(["msgId", "conversationId", "senderId", "senderStaffId", "robotCode"])(
    "bounds %s to 256 characters",
    (field) => {
      expect(robotMessageSchema.safeParse({ ...samples.text, [field]: "x".repeat(MAX_ID_LENGTH) }).success).toBe(true);
      expect(robotMessageSchema.safeParse({ ...samples.text, [field]: "x".repeat(MAX_ID_LENGTH + 1) }).success).toBe(
        false,
      );
      expect(robotMessageSchema.safeParse({ ...samples.text, conversationId: "" }).success).toBe(false);
      expect(robotMessageSchema.safeParse({ ...samples.text, conversationType: 2 }).success).toBe(false);
      for (const msgtype of ["", "not a type", "x".repeat(41), 7])
        expect(robotMessageSchema.safeParse({ ...samples.text, msgtype }).success, String(msgtype)).toBe(false);
      expect(robotMessageSchema.safeParse({ ...samples.text, text: {} }).success).toBe(false);
      const { text: _text, ...noText } = samples.text;
      expect(robotMessageSchema.safeParse(noText).success).toBe(false);
      expect(robotMessageSchema.safeParse({ ...samples.picture, content: "dc1" }).success).toBe(false);
    },
  );

  it("keeps a message of a type it does not know, as sent (DingTalk adds types)", () => {
    const { content: _c, ...rest } = samples.picture;
    const card = { ...rest, msgtype: "interactiveCard", content: { cardData: { a: 1 } } };
    const parsed = robotMessageSchema.parse(card);
    expect(parsed).toEqual(card);
    expect(isKnownMessage(parsed)).toBe(false);
    expect(isKnownMessage(robotMessageSchema.parse(samples.text))).toBe(true);
    expect(KNOWN_MSGTYPES).toEqual(Object.keys(samples));
  });
});

describe("messageText", () => {
  it("trims the space DingTalk leaves after the @-mention", () => {
    expect(messageText(robotMessageSchema.parse(samples.text))).toBe("hello robot");
  });

  it("reads a rich text's text segments, one per line, and an audio message's transcript", () => {
    const rich = {
      ...samples.richText,
      content: {
        richText: [{ text: " look " }, { type: "picture", downloadCode: "dc2" }, { text: "at this" }, { text: " " }],
      },
    };
    expect(messageText(robotMessageSchema.parse(rich))).toBe("look\nat this");
    expect(messageText(robotMessageSchema.parse(samples.audio))).toBe("你好");
    expect(messageText(robotMessageSchema.parse({ ...samples.audio, content: { downloadCode: "dc3" } }))).toBe("");
  });

  it("is empty for the types without text", () => {
    for (const type of ["picture", "video", "file"] as const)
      expect(messageText(robotMessageSchema.parse(samples[type])), type).toBe("");
    expect(messageText(robotMessageSchema.parse({ ...samples.file, msgtype: "interactiveCard" }))).toBe("");
  });
});

describe("eventEnvelopeSchema", () => {
  it("requires a non-empty encrypt string", () => {
    expect(eventEnvelopeSchema.parse({ encrypt: "abc" })).toEqual({ encrypt: "abc" });
    expect(eventEnvelopeSchema.safeParse({ encrypt: "" }).success).toBe(false);
    expect(eventEnvelopeSchema.safeParse({}).success).toBe(false);
  });
});

describe("streamFrameSchema", () => {
  const frame = {
    specVersion: "1.0",
    type: "CALLBACK",
    headers: {
      topic: ROBOT_TOPIC,
      messageId: "m-1",
      contentType: "application/json",
      time: "1700000000000",
      appId: "a1",
    },
    data: JSON.stringify(samples.text),
  };

  it("parses a callback frame and keeps extra headers", () => {
    const parsed = streamFrameSchema.parse(frame);
    expect(parsed.headers).toMatchObject({ topic: ROBOT_TOPIC, messageId: "m-1", appId: "a1" });
    expect(robotMessageSchema.parse(JSON.parse(parsed.data)).msgId).toBe("msgAbc==");
  });

  it("rejects an unknown type, a missing messageId and non-string data", () => {
    expect(streamFrameSchema.safeParse({ ...frame, type: "OTHER" }).success).toBe(false);
    expect(streamFrameSchema.safeParse({ ...frame, headers: { topic: "ping" } }).success).toBe(false);
    expect(streamFrameSchema.safeParse({ ...frame, data: { a: 1 } }).success).toBe(false);
  });
});
