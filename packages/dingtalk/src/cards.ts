/**
 * Interactive cards (shared/notes/dingtalk-cards.md): create and deliver a card to group chats
 * (`outTrackId` = our id), update it for everyone, and the card callback (Stream topic
 * `/v1.0/card/instances/callback`, or HTTP with the `x-ddpaas-signature*` headers).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { DingTalkOpenApi } from "./openapi.ts";
import { SIGNATURE_WINDOW_MS, type SignatureCheck } from "./signature.ts";

export const CARD_TOPIC = "/v1.0/card/instances/callback";

export const groupSpaceId = (openConversationId: string) => `dtv1.card//IM_GROUP.${openConversationId}`;

/** Card data values are strings (DingTalk's cardParamMap). */
export type CardParams = Record<string, string>;

export interface CardDelivery {
  robotCode: string;
  openConversationId: string;
}

export interface CardCallbackRoute {
  /** "STREAM", or "HTTP" with the route key registered by registerCardCallback. */
  type: "STREAM" | "HTTP";
  routeKey?: string;
}

function deliverModel(d: CardDelivery) {
  return {
    openSpaceId: groupSpaceId(d.openConversationId),
    imGroupOpenDeliverModel: { robotCode: d.robotCode },
    imGroupOpenSpaceModel: { supportForward: false },
  };
}

/** `POST /v1.0/card/instances/createAndDeliver` to one group. */
export function createAndDeliverCard(
  api: DingTalkOpenApi,
  args: { templateId: string; outTrackId: string; params: CardParams; to: CardDelivery; callback: CardCallbackRoute },
): Promise<unknown> {
  return api.card("POST", "/v1.0/card/instances/createAndDeliver", {
    cardTemplateId: args.templateId,
    outTrackId: args.outTrackId,
    cardData: { cardParamMap: args.params },
    callbackType: args.callback.type,
    ...(args.callback.type === "HTTP" && args.callback.routeKey ? { callbackRouteKey: args.callback.routeKey } : {}),
    ...deliverModel(args.to),
  });
}

/** `POST /v1.0/card/instances/deliver`: the same card instance into another group. */
export function deliverCard(api: DingTalkOpenApi, args: { outTrackId: string; to: CardDelivery }): Promise<unknown> {
  return api.card("POST", "/v1.0/card/instances/deliver", { outTrackId: args.outTrackId, ...deliverModel(args.to) });
}

/** `PUT /v1.0/card/instances`: what everyone sees, by key. */
export function updateCard(api: DingTalkOpenApi, args: { outTrackId: string; params: CardParams }): Promise<unknown> {
  return api.card("PUT", "/v1.0/card/instances", {
    outTrackId: args.outTrackId,
    cardData: { cardParamMap: args.params },
    cardUpdateOptions: { updateCardDataByKey: true },
  });
}

/** `POST /v1.0/card/callbacks/register`: HTTP-mode callbacks of `routeKey` go to `url`, signed with `apiSecret`. */
export function registerCardCallback(
  api: DingTalkOpenApi,
  args: { routeKey: string; url: string; apiSecret: string },
): Promise<unknown> {
  return api.card("POST", "/v1.0/card/callbacks/register", {
    callbackRouteKey: args.routeKey,
    callbackUrl: args.url,
    apiSecret: args.apiSecret,
    forceUpdate: true,
  });
}

/** x-ddpaas-signature = Base64(HmacSHA256(key = apiSecret, msg = timestamp)). */
export function cardCallbackSign(timestamp: string, apiSecret: string): string {
  return createHmac("sha256", apiSecret).update(timestamp, "utf8").digest("base64");
}

export function verifyCardSignature(
  headers: { timestamp?: string | null; signature?: string | null },
  apiSecret: string,
  now: number = Date.now(),
): SignatureCheck {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature) return { ok: false, reason: "missing_headers" };
  if (!/^\d{1,16}$/.test(timestamp)) return { ok: false, reason: "bad_timestamp" };
  if (Math.abs(now - Number(timestamp)) > SIGNATURE_WINDOW_MS) return { ok: false, reason: "stale_timestamp" };
  const expected = Buffer.from(cardCallbackSign(timestamp, apiSecret), "utf8");
  const given = Buffer.from(signature, "utf8");
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: "bad_signature" };
  return { ok: true };
}

/** The callback body (HTTP) or the Stream frame's data: `content` is a JSON string. */
export const cardCallbackSchema = z.object({
  type: z.string().optional(),
  outTrackId: z.string().min(1).max(128),
  userId: z.string().min(1).max(128),
  corpId: z.string().optional(),
  content: z.string().max(64 * 1024),
});

export interface CardAction {
  outTrackId: string;
  userId: string;
  /** The clicked button's action id (cardPrivateData.actionIds[0]). */
  actionId: string;
  params: Record<string, unknown>;
}

const contentSchema = z.object({
  cardPrivateData: z.object({
    actionIds: z.array(z.string()).min(1),
    params: z.record(z.string(), z.unknown()).optional(),
  }),
});

/** The click, or undefined when the body is not a card action. */
export function parseCardCallback(body: unknown): CardAction | undefined {
  const parsed = cardCallbackSchema.safeParse(body);
  if (!parsed.success) return undefined;
  let content: unknown;
  try {
    content = JSON.parse(parsed.data.content);
  } catch {
    return undefined;
  }
  const c = contentSchema.safeParse(content);
  if (!c.success) return undefined;
  return {
    outTrackId: parsed.data.outTrackId,
    userId: parsed.data.userId,
    actionId: c.data.cardPrivateData.actionIds[0]!,
    params: c.data.cardPrivateData.params ?? {},
  };
}

/** The callback's answer: a message shown to the clicker only (their private card data). */
export function cardCallbackResponse(message: string, params: CardParams = {}): object {
  return {
    cardUpdateOptions: { updateCardDataByKey: true, updatePrivateDataByKey: true },
    cardData: { cardParamMap: params },
    userPrivateData: { cardParamMap: { message } },
  };
}
