/**
 * Inbound shapes: the robot message body (HTTP mode and Stream `data`), the event-subscription
 * envelope and the Stream frame (shared/notes/dingtalk-protocol.md §1-3). Objects are loose:
 * DingTalk adds fields over time, and dropping them would lose data we store.
 */
import { z } from "zod";

export const ROBOT_TOPIC = "/v1.0/im/bot/messages/get";

const atUserSchema = z.looseObject({ dingtalkId: z.string(), staffId: z.string().optional() });

const common = {
  msgId: z.string().min(1),
  createAt: z.number(),
  conversationType: z.enum(["1", "2"]),
  conversationId: z.string().min(1),
  conversationTitle: z.string().optional(),
  senderId: z.string(),
  senderStaffId: z.string().optional(),
  senderNick: z.string().optional(),
  senderCorpId: z.string().optional(),
  senderUnionId: z.string().optional(),
  chatbotUserId: z.string().optional(),
  chatbotCorpId: z.string().optional(),
  robotCode: z.string().optional(),
  isAdmin: z.boolean().optional(),
  isInAtList: z.boolean().optional(),
  atUsers: z.array(atUserSchema).optional(),
  sessionWebhook: z.string().optional(),
  sessionWebhookExpiredTime: z.number().optional(),
};

// Non-text types carry a `content` object; its fields are optional: only the download APIs read them.
const downloadable = { downloadCode: z.string().optional() };

export const robotMessageSchema = z.discriminatedUnion("msgtype", [
  z.looseObject({ ...common, msgtype: z.literal("text"), text: z.looseObject({ content: z.string() }) }),
  z.looseObject({ ...common, msgtype: z.literal("picture"), content: z.looseObject({ ...downloadable, pictureDownloadCode: z.string().optional() }) }),
  z.looseObject({
    ...common,
    msgtype: z.literal("richText"),
    content: z.looseObject({ richText: z.array(z.looseObject({ text: z.string().optional(), type: z.string().optional(), ...downloadable })).optional() }),
  }),
  z.looseObject({ ...common, msgtype: z.literal("audio"), content: z.looseObject({ ...downloadable, duration: z.number().optional(), recognition: z.string().optional() }) }),
  z.looseObject({ ...common, msgtype: z.literal("video"), content: z.looseObject({ ...downloadable, duration: z.number().optional(), videoType: z.string().optional() }) }),
  z.looseObject({ ...common, msgtype: z.literal("file"), content: z.looseObject({ ...downloadable, fileName: z.string().optional() }) }),
]);

export type RobotMessage = z.infer<typeof robotMessageSchema>;

/** The user's text with the leading space DingTalk puts after an @-mention removed; "" for non-text messages. */
export function messageText(msg: RobotMessage): string {
  return msg.msgtype === "text" ? msg.text.content.trim() : "";
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
