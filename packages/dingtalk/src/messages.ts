/**
 * Inbound shapes: the robot message body (HTTP mode and Stream `data`), the event-subscription
 * envelope and the Stream frame (shared/notes/dingtalk-protocol.md §1-3). Objects are loose:
 * DingTalk adds fields over time, and dropping them would lose data we store.
 */
import { z } from "zod";

export const ROBOT_TOPIC = "/v1.0/im/bot/messages/get";

const atUserSchema = z.looseObject({ dingtalkId: z.string(), staffId: z.string().optional() });

/** Ids are keys (unique indexes, rate-limit keys, log hashes): longer ones are refused (400). */
export const MAX_ID_LENGTH = 256;
const id = () => z.string().max(MAX_ID_LENGTH);

const common = {
  msgId: id().min(1),
  createAt: z.number(),
  conversationType: z.enum(["1", "2"]),
  conversationId: id().min(1),
  conversationTitle: z.string().optional(),
  senderId: id(),
  senderStaffId: id().optional(),
  senderNick: z.string().optional(),
  senderCorpId: z.string().optional(),
  senderUnionId: z.string().optional(),
  chatbotUserId: z.string().optional(),
  chatbotCorpId: z.string().optional(),
  robotCode: id().optional(),
  isAdmin: z.boolean().optional(),
  isInAtList: z.boolean().optional(),
  atUsers: z.array(atUserSchema).optional(),
  sessionWebhook: z.string().optional(),
  sessionWebhookExpiredTime: z.number().optional(),
};

// Non-text types carry a `content` object; its fields are optional: only the download APIs read them.
const downloadable = { downloadCode: z.string().optional() };

/** The types this version reads (shared/notes/dingtalk-protocol.md §1). */
export const KNOWN_MSGTYPES = ["text", "picture", "richText", "audio", "video", "file"] as const;
const known: ReadonlySet<string> = new Set(KNOWN_MSGTYPES);

const knownMessageSchema = z.discriminatedUnion("msgtype", [
  z.looseObject({ ...common, msgtype: z.literal("text"), text: z.looseObject({ content: z.string() }) }),
  z.looseObject({
    ...common,
    msgtype: z.literal("picture"),
    content: z.looseObject({ ...downloadable, pictureDownloadCode: z.string().optional() }),
  }),
  z.looseObject({
    ...common,
    msgtype: z.literal("richText"),
    content: z.looseObject({
      richText: z
        .array(z.looseObject({ text: z.string().optional(), type: z.string().optional(), ...downloadable }))
        .optional(),
    }),
  }),
  z.looseObject({
    ...common,
    msgtype: z.literal("audio"),
    content: z.looseObject({ ...downloadable, duration: z.number().optional(), recognition: z.string().optional() }),
  }),
  z.looseObject({
    ...common,
    msgtype: z.literal("video"),
    content: z.looseObject({ ...downloadable, duration: z.number().optional(), videoType: z.string().optional() }),
  }),
  z.looseObject({
    ...common,
    msgtype: z.literal("file"),
    content: z.looseObject({ ...downloadable, fileName: z.string().optional() }),
  }),
]);

/**
 * A message of a type this version does not know yet (DingTalk adds types over time): stored and
 * answered like a picture (the robot says it cannot read it), never refused at the door, which
 * would leave the user without an answer. Narrow with `isKnownMessage` before reading a type's
 * fields: a plain `msg.msgtype === "text"` does not rule this one out.
 */
const otherMessageSchema = z.looseObject({
  ...common,
  msgtype: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/, "msgtype: a type name (letters, digits, _)")
    .refine((t) => !known.has(t), { message: "a known msgtype with a malformed body" }),
});

export const robotMessageSchema = z.union([knownMessageSchema, otherMessageSchema]);

export type RobotMessage = z.infer<typeof robotMessageSchema>;
export type KnownRobotMessage = z.infer<typeof knownMessageSchema>;

export const isKnownMessage = (msg: RobotMessage): msg is KnownRobotMessage => known.has(msg.msgtype);

/**
 * What the user wrote: a text's content (with the leading space DingTalk puts after an
 * @-mention removed), a rich text's text segments (one per line; its pictures are not text),
 * an audio message's speech recognition (DingTalk's own transcript); "" for the other types.
 */
export function messageText(msg: RobotMessage): string {
  if (!isKnownMessage(msg)) return "";
  switch (msg.msgtype) {
    case "text":
      return msg.text.content.trim();
    case "richText":
      return (msg.content.richText ?? [])
        .flatMap((segment) => (segment.text?.trim() ? [segment.text.trim()] : []))
        .join("\n");
    case "audio":
      return msg.content.recognition?.trim() ?? "";
    default:
      return "";
  }
}

/** Body of an event-subscription POST (§3). */
export const eventEnvelopeSchema = z.object({ encrypt: z.string().min(1) });

/** A frame the Stream gateway sends (§2); `data` is itself a JSON string. */
export const streamFrameSchema = z.object({
  // Optional: we never branch on it, and a gateway omitting it should not cost us messages.
  specVersion: z.string().optional(),
  type: z.enum(["SYSTEM", "EVENT", "CALLBACK"]),
  headers: z.looseObject({
    topic: z.string(),
    messageId: z.string(),
    contentType: z.string().optional(),
    time: z.string().optional(),
  }),
  data: z.string(),
});

export type StreamFrame = z.infer<typeof streamFrameSchema>;
