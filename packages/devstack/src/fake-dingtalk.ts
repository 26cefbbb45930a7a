/**
 * A fake DingTalk for tests and the local demo. Only DingTalk's servers are faked: it speaks the
 * real protocols (shared/notes/dingtalk-protocol.md), so the runtime talks to it exactly as it
 * talks to DingTalk.
 *
 * Serves, on one port (node:http + ws):
 * - `POST /v1.0/oauth2/accessToken`             app access token (appKey/appSecret checked)
 * - `POST /v1.0/gateway/connections/open`       Stream mode: `{endpoint, ticket}` (single use, 90 s)
 * - WebSocket `/connect?ticket=`                Stream mode: CALLBACK frames, SYSTEM ping/disconnect,
 *                                               ACKs recorded, an unACKed CALLBACK redelivered once
 * - `POST /v1.0/robot/groupMessages/send`       OpenAPI robot sends (`x-acs-dingtalk-access-token`)
 * - `POST /v1.0/robot/oToMessages/batchSend`
 * - `POST /robot/sendBySession?session=`        the `sessionWebhook` put into every robot message
 * - Interactive cards: `POST /v1.0/card/instances/createAndDeliver`, `POST /v1.0/card/instances/deliver`,
 *   `PUT /v1.0/card/instances`, `POST /v1.0/card/callbacks/register`; `clickCard()` (and
 *   `POST /_fake/card/click`, `GET /_fake/cards`) deliver a signed card callback as a given DingTalk
 *   user, over HTTP (x-ddpaas-signature) or Stream (topic /v1.0/card/instances/callback)
 * - `POST /_fake/say`, `GET /_fake/sent`, `GET /_fake/health`   control API (humans, the CLI)
 * - DingTalk login (OAuth 2): `GET /oauth2/auth`, `POST /v1.0/oauth2/userAccessToken`,
 *   `GET /v1.0/contact/users/me` (fake-dingtalk-oauth.ts; the OAuth client is the app)
 *
 * HTTP-mode delivery POSTs the robot message to `callbackUrl` with the `timestamp` and `sign`
 * headers DingTalk sends. A message JSON in the callback's response body is a reply too (DingTalk
 * shows it in the chat); it is recorded with `via: "callbackResponse"`.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { cardCallbackSign, robotSign } from "@clawgate/dingtalk";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { BodyTooLargeError, readRequestText } from "./http-body.ts";
import { createFakeDingTalkOAuth, type FakeDingTalkUser } from "./fake-dingtalk-oauth.ts";

export const FAKE_ROBOT_TOPIC = "/v1.0/im/bot/messages/get";
export const FAKE_CARD_TOPIC = "/v1.0/card/instances/callback";
const TOKEN_TTL_S = 7200;
const TICKET_TTL_MS = 90_000;
const SESSION_TTL_MS = 90 * 60_000;
const MSG_PARAM_MAX_BYTES = 15_000;
const MAX_BODY_BYTES = 1024 * 1024;
const DEMO_GROUP_TITLES: Record<string, string> = { "cid-demo-group": "Clawgate demo group" };

export interface FakeDingTalkOptions {
  /** 0 picks a free port (tests). */
  port: number;
  appKey: string;
  appSecret: string;
  /** The robot's code; an internal app robot's code is its AppKey (the default). */
  robotCode?: string;
  /** HTTP-mode target, e.g. http://127.0.0.1:8080/dingtalk/robot. */
  callbackUrl?: string;
  /** Base of the sessionWebhook URLs put into messages (default: this server's url). */
  webhookBase?: string;
  host?: string;
  /** Sends (sessionWebhook + OpenAPI, together) allowed per rolling minute before throttling. */
  throttleAfter?: number;
  /** HTTP-mode push timeout (DingTalk: 2.5 s). */
  callbackTimeoutMs?: number;
  /** Stream mode: a CALLBACK not ACKed (code 200) within this is redelivered once (DingTalk: 3 s). */
  streamAckTimeoutMs?: number;
  /** Stream mode: redeliver an unACKed CALLBACK once (default true). */
  redeliverUnacked?: boolean;
  /** Stream mode: SYSTEM ping every this many ms (default 20 s; 0 = never, pingStreams() still works). */
  pingIntervalMs?: number;
  /** Stream mode: how long deliver() waits for a connection before failing (default 5 s). */
  streamWaitMs?: number;
  /**
   * HTTP-mode card callbacks when the app has not registered a URL for the card's route key
   * (`/v1.0/card/callbacks/register` overrides it): where they go and the apiSecret they are signed with.
   */
  cardCallback?: { url: string; apiSecret: string };
  /** DingTalk login: the accounts (default DEMO_DINGTALK_USERS) and registered redirect URIs (default any). */
  oauth?: { users?: readonly FakeDingTalkUser[]; redirectUris?: readonly string[] };
}

export type SentVia = "sessionWebhook" | "groupMessages" | "oToMessages" | "callbackResponse";

export interface SentMessage {
  via: SentVia;
  /** Group sends: openConversationId; session webhooks: the session's conversation; one-to-one
   *  sends: the single chat last seen with the first user (else that user id). */
  conversationId: string;
  userIds?: string[];
  /** sessionWebhook: the msgId of the robot message whose sessionWebhook carried this send. */
  inReplyTo?: string;
  /** sessionWebhook / callbackResponse: the message's msgtype. */
  msgtype?: string;
  /** OpenAPI: sampleText, sampleMarkdown, ... */
  msgKey?: string;
  /** The text, markdown text or card text. */
  text: string;
  title?: string;
  /** The request body as received (for OpenAPI sends, msgParam parsed into `msgParam`). */
  body: unknown;
  at: number;
}

export interface StreamAck {
  messageId: string;
  /** The robot message's msgId when the ACK answers a CALLBACK frame. */
  msgId?: string;
  kind: "callback" | "ping" | "unknown";
  code: unknown;
  data: unknown;
  at: number;
}

export interface DeliverInput {
  conversationId: string;
  text: string;
  /** Used for both senderId and senderStaffId unless senderStaffId is given (default "demo-user"). */
  senderId?: string;
  senderStaffId?: string;
  senderNick?: string;
  /** "2" group (default), "1" single chat. */
  conversationType?: "1" | "2";
  conversationTitle?: string;
  msgId?: string;
  isAdmin?: boolean;
  /** Default: "stream" when a Stream client is connected, else "http". */
  via?: "http" | "stream";
  sessionWebhookExpired?: boolean;
  /**
   * A message of another type than text (`text` is then ignored): its msgtype and `content`, as
   * DingTalk sends them, e.g. { msgtype: "richText", content: { richText: [{ text: "look" }] } }.
   */
  typed?: { msgtype: string; content: Record<string, unknown> };
}

export interface DeliverResult {
  msgId: string;
  /** HTTP status of the callback, or 0 for stream. */
  status: number;
}

/** A card instance as the app created it (outTrackId = the app's id), with every update applied. */
export interface FakeCard {
  outTrackId: string;
  templateId: string;
  /** cardParamMap as it stands (updates merged by key). */
  params: Record<string, string>;
  /** openSpaceIds it was delivered to, in order. */
  spaces: string[];
  callbackType: "STREAM" | "HTTP";
  routeKey?: string;
  /** How many PUT updates it received. */
  updates: number;
}

export interface CardClickInput {
  outTrackId: string;
  /** The clicking DingTalk user (userId). */
  userId: string;
  /** The button's action id, e.g. "approve" / "reject". */
  action: string;
  /** Default: the card's callbackType. */
  via?: "http" | "stream";
  /** HTTP only: sign with another secret / send this timestamp (tests of refusals). */
  apiSecret?: string;
  timestamp?: number;
}

export interface CardClickResult {
  /** HTTP status, or 0 for Stream. */
  status: number;
  /** The app's answer (HTTP body, or the Stream ACK's `data.response`). */
  response: unknown;
}

export interface FakeDingTalk {
  url: string;
  /** Cards by outTrackId. */
  cards: Map<string, FakeCard>;
  /** Sends a card callback as `userId` clicking `action` on the card. */
  clickCard(input: CardClickInput): Promise<CardClickResult>;
  /** Resolves when the card exists and `until` holds for it (after creates, delivers, updates). */
  waitForCard(outTrackId: string, until?: (card: FakeCard) => boolean, timeoutMs?: number): Promise<FakeCard>;
  close(): Promise<void>;
  /** Every sessionWebhook and OpenAPI send received (and callback response replies), in order. */
  sent: SentMessage[];
  /** Every ACK / ping echo received on a Stream connection, in order. */
  acks: StreamAck[];
  /** The robot messages delivered, in order. */
  delivered: Record<string, unknown>[];
  deliver(input: DeliverInput): Promise<DeliverResult>;
  /**
   * The next `count` replies to `conversationId` not yet returned by an earlier waitForReplies
   * call (a per-conversation cursor), so a reply that arrived before the call is not missed and a
   * reply already returned is not returned again. Rejects after timeoutMs.
   */
  waitForReplies(conversationId: string, count?: number, timeoutMs?: number): Promise<SentMessage[]>;
  /** Resolves with the ACK of the CALLBACK carrying this msgId (code 200). */
  waitForAck(msgId: string, timeoutMs?: number): Promise<StreamAck>;
  streamConnections(): number;
  /** Terminates every Stream connection abruptly (a network failure). */
  dropStreamConnections(): void;
  /** Sends a SYSTEM disconnect to every Stream connection; closes them 5 s later if they stay. */
  disconnectStreams(): void;
  /** Sends a SYSTEM ping now; returns the ping messageIds. */
  pingStreams(): string[];
  /** Changes the throttle (sends per rolling minute; undefined = off). */
  setThrottle(perMinute: number | undefined): void;
}

interface StreamConn {
  ws: WebSocket;
  topics: string[];
}

interface PendingFrame {
  messageId: string;
  msgId: string;
  /** Default: the robot topic. */
  topic?: string;
  frame: string;
  acked: boolean;
  deliveries: number;
  timer?: NodeJS.Timeout;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(typeof body === "object" && body && "message" in body ? String(body.message) : `HTTP ${status}`);
  }
}

const requestId = () => randomUUID().replace(/-/g, "").toUpperCase();
/** OpenAPI error body, as api.dingtalk.com returns it. */
const apiError = (status: number, code: string, message: string) =>
  new HttpError(status, { code, message, requestid: requestId() });
/** oapi error body (sessionWebhook). */
const oapiError = (status: number, errcode: number, errmsg: string) => new HttpError(status, { errcode, errmsg });

async function readBody(req: IncomingMessage): Promise<string> {
  try {
    return await readRequestText(req, MAX_BODY_BYTES);
  } catch (error) {
    if (error instanceof BodyTooLargeError)
      throw new HttpError(413, { code: "RequestEntityTooLarge", message: "body too large" });
    throw error;
  }
}

async function readJson(req: IncomingMessage, bad: () => HttpError): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw bad();
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json;charset=utf-8",
    "content-length": Buffer.byteLength(payload),
  });
  res.end(payload);
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Text and title of a robot reply message (sessionWebhook / callback response shape). */
function messageContent(msg: Record<string, unknown>): { text: string; title?: string } | undefined {
  switch (msg.msgtype) {
    case "text": {
      const content = str(obj(msg.text)?.content);
      return content === undefined ? undefined : { text: content };
    }
    case "markdown": {
      const md = obj(msg.markdown);
      const title = str(md?.title);
      const text = str(md?.text);
      return title === undefined || text === undefined ? undefined : { text, title };
    }
    case "actionCard": {
      const card = obj(msg.actionCard);
      const text = str(card?.text);
      return text === undefined ? undefined : { text, title: str(card?.title) ?? "" };
    }
    case "link": {
      const link = obj(msg.link);
      const text = str(link?.text);
      return text === undefined ? undefined : { text, title: str(link?.title) ?? "" };
    }
    case "feedCard": {
      const links = obj(msg.feedCard)?.links;
      return Array.isArray(links) ? { text: links.map((l) => str(obj(l)?.title) ?? "").join("\n") } : undefined;
    }
    default:
      return undefined;
  }
}

const OPENAPI_MSG_KEYS = new Set([
  "sampleText",
  "sampleMarkdown",
  "sampleImageMsg",
  "sampleLink",
  "sampleActionCard",
  "sampleActionCard2",
  "sampleActionCard3",
  "sampleActionCard4",
  "sampleActionCard5",
  "sampleActionCard6",
  "sampleAudio",
  "sampleFile",
  "sampleVideo",
]);

export async function startFakeDingTalk(opts: FakeDingTalkOptions): Promise<FakeDingTalk> {
  const robotCode = opts.robotCode ?? opts.appKey;
  const chatbotUserId = `$:LWCP_v1:$${Buffer.from(`bot:${robotCode}`).toString("base64")}`;
  const corpId = "dingfakecorp0000000000";
  const callbackTimeoutMs = opts.callbackTimeoutMs ?? 2_500;
  const ackTimeoutMs = opts.streamAckTimeoutMs ?? 3_000;
  const redeliver = opts.redeliverUnacked ?? true;
  const pingIntervalMs = opts.pingIntervalMs ?? 20_000;
  const streamWaitMs = opts.streamWaitMs ?? 5_000;
  // A card click's answer: DingTalk waits 2 s for it; give slow test machines some room.
  const streamAckWaitMs = Math.max(ackTimeoutMs, 5_000);
  let throttleAfter = opts.throttleAfter;
  const oauth = createFakeDingTalkOAuth({ clientId: opts.appKey, clientSecret: opts.appSecret, ...opts.oauth });

  const tokens = new Map<string, number>(); // accessToken -> expiresAt
  const tickets = new Map<string, { expiresAt: number; topics: string[] }>();
  const sessions = new Map<string, { conversationId: string; msgId: string; expiresAt: number }>();
  const singleChatOf = new Map<string, string>(); // staffId/senderId -> single-chat conversationId
  const conns = new Set<StreamConn>();
  const pending = new Map<string, PendingFrame>(); // stream messageId -> frame
  const redeliveryQueue: PendingFrame[] = [];
  const pings = new Set<string>();
  const sendTimes: number[] = [];
  const cursors = new Map<string, number>();
  const sentListeners = new Set<() => void>();
  const connListeners = new Set<() => void>();
  const ackListeners = new Set<(ack: StreamAck) => void>();
  const timers = new Set<NodeJS.Timeout>();
  let roundRobin = 0;
  let closed = false;

  const sent: SentMessage[] = [];
  const cards = new Map<string, FakeCard>();
  const cardListeners = new Set<() => void>();
  const cardRoutes = new Map<string, { url: string; apiSecret: string }>();
  const acks: StreamAck[] = [];
  const delivered: Record<string, unknown>[] = [];

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    t.unref();
    timers.add(t);
    return t;
  };

  function record(msg: SentMessage): void {
    sent.push(msg);
    for (const l of [...sentListeners]) l();
  }

  /** Counts a send; true when it is over the throttle (and is then not delivered). */
  function throttled(): boolean {
    const now = Date.now();
    while (sendTimes.length && sendTimes[0]! <= now - 60_000) sendTimes.shift();
    if (throttleAfter !== undefined && sendTimes.length >= throttleAfter) return true;
    sendTimes.push(now);
    return false;
  }

  function checkToken(req: IncomingMessage): void {
    const token = req.headers["x-acs-dingtalk-access-token"];
    if (typeof token !== "string" || !token)
      throw apiError(401, "MissingAccessToken", "access token is required (x-acs-dingtalk-access-token)");
    const expiresAt = tokens.get(token);
    if (expiresAt === undefined || expiresAt < Date.now())
      throw apiError(401, "InvalidAuthentication", "不合法的access_token");
  }

  // ---- HTTP routes ----

  async function accessToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req, () => apiError(400, "InvalidParameter", "body must be JSON"));
    if (body.appKey !== opts.appKey || body.appSecret !== opts.appSecret) {
      throw apiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret");
    }
    const token = randomBytes(16).toString("hex");
    tokens.set(token, Date.now() + TOKEN_TTL_S * 1000);
    sendJson(res, 200, { accessToken: token, expireIn: TOKEN_TTL_S });
  }

  async function openConnection(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req, () => apiError(400, "InvalidParameter", "body must be JSON"));
    if (body.clientId !== opts.appKey || body.clientSecret !== opts.appSecret) {
      throw apiError(401, "invalidClientIdOrSecret", "无效的clientId或者clientSecret");
    }
    if (!Array.isArray(body.subscriptions) || body.subscriptions.length === 0) {
      throw apiError(400, "InvalidParameter", "subscriptions is required");
    }
    const topics = body.subscriptions.map((s) => `${str(obj(s)?.type) ?? ""}:${str(obj(s)?.topic) ?? ""}`);
    const ticket = randomUUID();
    tickets.set(ticket, { expiresAt: Date.now() + TICKET_TTL_MS, topics });
    sendJson(res, 200, { endpoint: `${wsBase}/connect`, ticket });
  }

  async function openApiSend(
    req: IncomingMessage,
    res: ServerResponse,
    kind: "groupMessages" | "oToMessages",
  ): Promise<void> {
    checkToken(req);
    const body = await readJson(req, () => apiError(400, "InvalidParameter", "body must be JSON"));
    if (body.robotCode !== robotCode)
      throw apiError(400, "resource.not.found", `robot not found: ${String(body.robotCode)}`);
    const msgKey = str(body.msgKey);
    if (!msgKey || !OPENAPI_MSG_KEYS.has(msgKey))
      throw apiError(400, "InvalidParameter.MsgKey", `unknown msgKey: ${String(body.msgKey)}`);
    const msgParamText = str(body.msgParam);
    if (msgParamText === undefined) throw apiError(400, "MissingParameter", "msgParam is required (a JSON string)");
    if (Buffer.byteLength(msgParamText, "utf8") > MSG_PARAM_MAX_BYTES) {
      throw apiError(400, "InvalidParameter.MsgParam", `msgParam longer than ${MSG_PARAM_MAX_BYTES} bytes`);
    }
    let msgParam: Record<string, unknown> | undefined;
    try {
      msgParam = obj(JSON.parse(msgParamText));
    } catch {
      // below
    }
    if (!msgParam) throw apiError(400, "InvalidParameter.MsgParam", "msgParam is not a JSON object");
    let conversationId: string;
    let userIds: string[] | undefined;
    if (kind === "groupMessages") {
      const cid = str(body.openConversationId);
      if (!cid) throw apiError(400, "MissingParameter", "openConversationId is required");
      conversationId = cid;
    } else {
      if (
        !Array.isArray(body.userIds) ||
        body.userIds.length === 0 ||
        !body.userIds.every((u) => typeof u === "string" && u)
      ) {
        throw apiError(400, "MissingParameter", "userIds is required");
      }
      if (body.userIds.length > 20) throw apiError(400, "InvalidParameter.UserIds", "at most 20 userIds");
      userIds = body.userIds as string[];
      conversationId = singleChatOf.get(userIds[0]!) ?? userIds[0]!;
    }
    if (throttled()) throw apiError(429, "send.too.fast", "发送速度太快");
    const text = str(msgParam.content) ?? str(msgParam.text) ?? "";
    record({
      via: kind,
      conversationId,
      ...(userIds ? { userIds } : {}),
      msgKey,
      text,
      ...(str(msgParam.title) !== undefined ? { title: str(msgParam.title) } : {}),
      body: { ...body, msgParam },
      at: Date.now(),
    });
    const processQueryKey = randomBytes(12).toString("base64");
    sendJson(
      res,
      200,
      kind === "groupMessages"
        ? { processQueryKey }
        : { processQueryKey, invalidStaffIdList: [], flowControlledStaffIdList: [] },
    );
  }

  async function sessionWebhook(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const session = sessions.get(url.searchParams.get("session") ?? "");
    if (!session) throw oapiError(404, 300001, "session不存在");
    if (session.expiresAt < Date.now()) throw oapiError(400, 300001, "session已过期");
    const body = await readJson(req, () => oapiError(400, 40035, "缺少参数 json"));
    const content = messageContent(body);
    if (!content) throw oapiError(400, 40035, `缺少参数 json: not a valid ${String(body.msgtype)} message`);
    // DingTalk answers a throttled webhook with HTTP 200 and errcode 410100.
    if (throttled())
      return sendJson(res, 200, { errcode: 410100, errmsg: "send too fast, exceed 20 times per minute" });
    record({
      via: "sessionWebhook",
      conversationId: session.conversationId,
      inReplyTo: session.msgId,
      msgtype: String(body.msgtype),
      ...content,
      body,
      at: Date.now(),
    });
    sendJson(res, 200, { errcode: 0, errmsg: "ok" });
  }

  // ---- interactive cards ----

  const cardChanged = () => {
    for (const l of [...cardListeners]) l();
  };

  function cardParams(body: Record<string, unknown>): Record<string, string> {
    const map = obj(obj(body.cardData)?.cardParamMap);
    if (!map) return {};
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(map)) {
      if (typeof v !== "string")
        throw apiError(400, "InvalidParameter.CardParamMap", `cardParamMap.${k} must be a string`);
      out[k] = v;
    }
    return out;
  }

  function deliverTo(card: FakeCard, body: Record<string, unknown>): void {
    const space = str(body.openSpaceId);
    if (!space || !/^dtv1\.card\/\/(IM_GROUP|IM_ROBOT)\..+/.test(space))
      throw apiError(
        400,
        "InvalidParameter.OpenSpaceId",
        "openSpaceId must be dtv1.card//IM_GROUP.<cid> or IM_ROBOT.<userId>",
      );
    if (space.includes("IM_GROUP.") && str(obj(body.imGroupOpenDeliverModel)?.robotCode) !== robotCode)
      throw apiError(400, "InvalidParameter.RobotCode", "imGroupOpenDeliverModel.robotCode is not this app's robot");
    if (!card.spaces.includes(space)) card.spaces.push(space);
  }

  async function cardCreateAndDeliver(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkToken(req);
    const body = await readJson(req, () => apiError(400, "InvalidParameter", "body must be JSON"));
    const outTrackId = str(body.outTrackId);
    const templateId = str(body.cardTemplateId);
    if (!outTrackId || !templateId)
      throw apiError(400, "MissingParameter", "outTrackId and cardTemplateId are required");
    if (cards.has(outTrackId)) throw apiError(400, "InvalidParameter.OutTrackId", "a card with this outTrackId exists");
    const callbackType = body.callbackType === "HTTP" ? "HTTP" : "STREAM";
    const routeKey = str(body.callbackRouteKey);
    const card: FakeCard = {
      outTrackId,
      templateId,
      params: cardParams(body),
      spaces: [],
      callbackType,
      ...(routeKey ? { routeKey } : {}),
      updates: 0,
    };
    deliverTo(card, body);
    cards.set(outTrackId, card);
    cardChanged();
    sendJson(res, 200, {
      success: true,
      result: { outTrackId, deliverResults: [{ spaceId: card.spaces[0], success: true }] },
    });
  }

  async function cardDeliver(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkToken(req);
    const body = await readJson(req, () => apiError(400, "InvalidParameter", "body must be JSON"));
    const card = cards.get(str(body.outTrackId) ?? "");
    if (!card) throw apiError(400, "InvalidParameter.OutTrackId", "no card with this outTrackId");
    deliverTo(card, body);
    cardChanged();
    sendJson(res, 200, { success: true, result: [{ spaceId: card.spaces.at(-1), success: true }] });
  }

  async function cardUpdate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkToken(req);
    const body = await readJson(req, () => apiError(400, "InvalidParameter", "body must be JSON"));
    const card = cards.get(str(body.outTrackId) ?? "");
    if (!card) throw apiError(400, "InvalidParameter.OutTrackId", "no card with this outTrackId");
    const params = cardParams(body);
    const byKey = obj(body.cardUpdateOptions)?.updateCardDataByKey === true;
    card.params = byKey ? { ...card.params, ...params } : params;
    card.updates += 1;
    cardChanged();
    sendJson(res, 200, { success: true, result: true });
  }

  async function cardRegister(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkToken(req);
    const body = await readJson(req, () => apiError(400, "InvalidParameter", "body must be JSON"));
    const routeKey = str(body.callbackRouteKey);
    const url = str(body.callbackUrl);
    const apiSecret = str(body.apiSecret);
    if (!routeKey || !url || !apiSecret)
      throw apiError(400, "MissingParameter", "callbackRouteKey, callbackUrl and apiSecret are required");
    cardRoutes.set(routeKey, { url, apiSecret });
    sendJson(res, 200, { success: true, result: { callbackUrl: url, apiSecret } });
  }

  function cardCallbackBody(input: CardClickInput): Record<string, unknown> {
    return {
      type: "actionCallback",
      outTrackId: input.outTrackId,
      corpId,
      userId: input.userId,
      userIdType: 1,
      spaceType: "IM_GROUP",
      spaceId: cards.get(input.outTrackId)?.spaces[0] ?? "",
      extension: "{}",
      content: JSON.stringify({ cardPrivateData: { actionIds: [input.action], params: {} } }),
    };
  }

  async function clickCard(input: CardClickInput): Promise<CardClickResult> {
    if (closed) throw new Error("fake DingTalk is closed");
    const card = cards.get(input.outTrackId);
    if (!card) throw new Error(`fake DingTalk: no card ${input.outTrackId}`);
    const via = input.via ?? (card.callbackType === "HTTP" ? "http" : "stream");
    const body = cardCallbackBody(input);
    if (via === "http") {
      const target = (card.routeKey ? cardRoutes.get(card.routeKey) : undefined) ?? opts.cardCallback;
      if (!target) throw new Error("fake DingTalk: no HTTP card callback registered for this card's route key");
      const timestamp = String(input.timestamp ?? Date.now());
      const res = await fetch(target.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-ddpaas-signature-timestamp": timestamp,
          "x-ddpaas-signature": cardCallbackSign(timestamp, input.apiSecret ?? target.apiSecret),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(callbackTimeoutMs),
      });
      const text = await res.text();
      let response: unknown = text;
      try {
        response = JSON.parse(text);
      } catch {
        // kept as text
      }
      return { status: res.status, response };
    }
    if (!(await waitForConnection(streamWaitMs, FAKE_CARD_TOPIC)))
      throw new Error(`fake DingTalk: no Stream connection subscribed to ${FAKE_CARD_TOPIC} within ${streamWaitMs} ms`);
    const messageId = randomUUID();
    const frame: PendingFrame = {
      messageId,
      msgId: `card:${messageId}`,
      acked: false,
      deliveries: 0,
      topic: FAKE_CARD_TOPIC,
      frame: JSON.stringify({
        specVersion: "1.0",
        type: "CALLBACK",
        headers: { topic: FAKE_CARD_TOPIC, messageId, contentType: "application/json", time: String(Date.now()) },
        data: JSON.stringify(body),
      }),
    };
    pending.set(messageId, frame);
    if (!push(frame)) redeliveryQueue.push(frame);
    const ack = await waitForAck(frame.msgId, streamAckWaitMs);
    return { status: 0, response: obj(ack.data)?.response ?? null };
  }

  function waitForCard(
    outTrackId: string,
    until: (card: FakeCard) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<FakeCard> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const card = cards.get(outTrackId);
        if (!card || !until(card)) return false;
        clearTimeout(timer);
        cardListeners.delete(check);
        resolve(card);
        return true;
      };
      const timer = setTimeout(() => {
        cardListeners.delete(check);
        const card = cards.get(outTrackId);
        reject(
          new Error(
            `fake DingTalk: card ${outTrackId} ${card ? `is ${JSON.stringify(card.params.status)}` : "not created"} after ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      cardListeners.add(check);
      check();
    });
  }

  async function clickFromControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req, () => new HttpError(400, { message: "body must be JSON" }));
    const outTrackId = str(body.outTrackId);
    const userId = str(body.userId);
    const action = str(body.action);
    if (!outTrackId || !userId || !action)
      throw new HttpError(400, { message: "outTrackId, userId and action are required" });
    try {
      sendJson(res, 200, await clickCard({ outTrackId, userId, action }));
    } catch (error) {
      throw new HttpError(502, { message: (error as Error).message });
    }
  }

  async function say(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req, () => new HttpError(400, { message: "body must be JSON" }));
    const conversationId = str(body.conversationId);
    const text = str(body.text);
    if (!conversationId || text === undefined)
      throw new HttpError(400, { message: "conversationId and text are required" });
    const via = body.via === "http" || body.via === "stream" ? body.via : undefined;
    const timeoutMs = typeof body.timeoutMs === "number" && body.timeoutMs > 0 ? body.timeoutMs : 30_000;
    const startIndex = sent.length;
    let result: DeliverResult;
    try {
      result = await deliver({
        conversationId,
        text,
        senderId: str(body.senderId),
        senderNick: str(body.senderNick),
        conversationType: body.conversationType === "1" ? "1" : undefined,
        via,
      });
    } catch (error) {
      throw new HttpError(502, { message: (error as Error).message });
    }
    const replies =
      result.status === 0 || (result.status >= 200 && result.status < 300)
        ? await collectReplies(conversationId, startIndex, timeoutMs)
        : [];
    sendJson(res, 200, { ...result, replies });
  }

  /** Replies to the conversation from sent[startIndex..]: waits for the first, then for a quiet 500 ms. */
  function collectReplies(conversationId: string, startIndex: number, timeoutMs: number): Promise<SentMessage[]> {
    const mine = () => sent.slice(startIndex).filter((m) => m.conversationId === conversationId);
    return new Promise((resolve) => {
      let quiet: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(deadline);
        clearTimeout(quiet);
        sentListeners.delete(onSent);
        resolve(mine());
      };
      const onSent = () => {
        if (mine().length === 0) return;
        clearTimeout(quiet);
        quiet = setTimeout(finish, 500);
      };
      const deadline = setTimeout(finish, timeoutMs);
      sentListeners.add(onSent);
      onSent();
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    if (await oauth.handle(req, res, url)) return;
    const key = `${req.method} ${url.pathname}`;
    switch (key) {
      case "POST /v1.0/oauth2/accessToken":
        return accessToken(req, res);
      case "POST /v1.0/gateway/connections/open":
        return openConnection(req, res);
      case "POST /v1.0/robot/groupMessages/send":
        return openApiSend(req, res, "groupMessages");
      case "POST /v1.0/robot/oToMessages/batchSend":
        return openApiSend(req, res, "oToMessages");
      case "POST /robot/sendBySession":
        return sessionWebhook(req, res, url);
      case "POST /v1.0/card/instances/createAndDeliver":
        return cardCreateAndDeliver(req, res);
      case "POST /v1.0/card/instances/deliver":
        return cardDeliver(req, res);
      case "PUT /v1.0/card/instances":
        return cardUpdate(req, res);
      case "POST /v1.0/card/callbacks/register":
        return cardRegister(req, res);
      case "POST /_fake/card/click":
        return clickFromControl(req, res);
      case "GET /_fake/cards":
        return sendJson(res, 200, { cards: [...cards.values()] });
      case "POST /_fake/say":
        return say(req, res);
      case "GET /_fake/sent": {
        const cid = url.searchParams.get("conversationId");
        return sendJson(res, 200, { sent: cid ? sent.filter((m) => m.conversationId === cid) : sent });
      }
      case "GET /_fake/health":
        return sendJson(res, 200, { ok: true, streamConnections: conns.size });
      default:
        throw new HttpError(404, { code: "NotFound", message: `${req.method} ${url.pathname} not found` });
    }
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      if (error instanceof HttpError) sendJson(res, error.status, error.body);
      else sendJson(res, 500, { code: "InternalError", message: (error as Error).message });
    });
  });

  // ---- Stream mode ----

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });

  function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://fake");
    if (url.pathname !== "/connect") return refuseUpgrade(socket, 404, "Not Found");
    const ticketId = url.searchParams.get("ticket") ?? "";
    const ticket = tickets.get(ticketId);
    tickets.delete(ticketId); // single use
    if (!ticket || ticket.expiresAt < Date.now()) return refuseUpgrade(socket, 401, "Unauthorized");
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: StreamConn = { ws, topics: ticket.topics };
      conns.add(conn);
      ws.on("message", (raw: RawData) => onStreamMessage(raw));
      ws.on("close", () => conns.delete(conn));
      ws.on("error", () => conns.delete(conn));
      for (const l of [...connListeners]) l();
      flushRedeliveries();
    });
  });

  function onStreamMessage(raw: RawData): void {
    let msg: Record<string, unknown> | undefined;
    try {
      msg = obj(JSON.parse(raw.toString()));
    } catch {
      return;
    }
    const messageId = str(obj(msg?.headers)?.messageId);
    if (!msg || !messageId) return;
    const frame = pending.get(messageId);
    const kind = frame ? "callback" : pings.has(messageId) ? "ping" : "unknown";
    let data: unknown = msg.data;
    try {
      if (typeof data === "string") data = JSON.parse(data);
    } catch {
      // keep the string
    }
    const ack: StreamAck = {
      messageId,
      kind,
      code: msg.code,
      data,
      at: Date.now(),
      ...(frame ? { msgId: frame.msgId } : {}),
    };
    acks.push(ack);
    if (kind === "ping") pings.delete(messageId);
    if (frame && msg.code === 200) {
      frame.acked = true;
      clearTimeout(frame.timer);
      for (const l of [...ackListeners]) l(ack);
    }
  }

  function subscribed(conn: StreamConn, topic = FAKE_ROBOT_TOPIC): boolean {
    return (
      conn.ws.readyState === WebSocket.OPEN && conn.topics.some((t) => t === `CALLBACK:${topic}` || t === "CALLBACK:*")
    );
  }

  function pickConnection(topic = FAKE_ROBOT_TOPIC): StreamConn | undefined {
    const open = [...conns].filter((c) => subscribed(c, topic));
    if (open.length === 0) return undefined;
    return open[roundRobin++ % open.length];
  }

  function push(frame: PendingFrame): boolean {
    const conn = pickConnection(frame.topic);
    if (!conn) return false;
    frame.deliveries++;
    conn.ws.send(frame.frame);
    clearTimeout(frame.timer);
    frame.timer = later(ackTimeoutMs, () => {
      if (frame.acked || closed) return;
      if (redeliver && frame.deliveries < 2) {
        if (!push(frame)) redeliveryQueue.push(frame);
      }
    });
    return true;
  }

  function flushRedeliveries(): void {
    while (redeliveryQueue.length) {
      const frame = redeliveryQueue.shift()!;
      if (frame.acked) continue;
      if (!push(frame)) {
        redeliveryQueue.unshift(frame);
        return;
      }
    }
  }

  function waitForConnection(timeoutMs: number, topic = FAKE_ROBOT_TOPIC): Promise<boolean> {
    if ([...conns].some((c) => subscribed(c, topic))) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        connListeners.delete(onConn);
        resolve(ok);
      };
      const onConn = () => {
        if ([...conns].some((c) => subscribed(c, topic))) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      connListeners.add(onConn);
    });
  }

  function systemFrame(topic: string, data: unknown): { messageId: string; frame: string } {
    const messageId = randomUUID();
    const frame = JSON.stringify({
      specVersion: "1.0",
      type: "SYSTEM",
      headers: { topic, messageId, contentType: "application/json", time: String(Date.now()) },
      data: JSON.stringify(data),
    });
    return { messageId, frame };
  }

  function pingStreams(): string[] {
    const ids: string[] = [];
    for (const conn of conns) {
      if (conn.ws.readyState !== WebSocket.OPEN) continue;
      const { messageId, frame } = systemFrame("ping", { opaque: randomUUID() });
      pings.add(messageId);
      conn.ws.send(frame);
      ids.push(messageId);
    }
    return ids;
  }

  const pingTimer = pingIntervalMs > 0 ? setInterval(pingStreams, pingIntervalMs).unref() : undefined;

  // ---- delivery ----

  function robotMessage(input: DeliverInput): Record<string, unknown> {
    const createAt = Date.now();
    const msgId = input.msgId ?? `msg${randomBytes(12).toString("base64url")}`;
    const conversationType = input.conversationType ?? "2";
    const staffId = input.senderStaffId ?? input.senderId ?? "demo-user";
    const senderId = input.senderId ?? staffId;
    if (conversationType === "1") singleChatOf.set(staffId, input.conversationId);
    const session = randomBytes(18).toString("base64url");
    const expiresAt = input.sessionWebhookExpired ? createAt - 1_000 : createAt + SESSION_TTL_MS;
    sessions.set(session, { conversationId: input.conversationId, msgId, expiresAt });
    return {
      conversationId: input.conversationId,
      ...(conversationType === "2" ? { atUsers: [{ dingtalkId: chatbotUserId }] } : {}),
      chatbotCorpId: corpId,
      chatbotUserId,
      msgId,
      senderNick: input.senderNick ?? (staffId === "demo-user" ? "Demo User" : staffId),
      isAdmin: input.isAdmin ?? false,
      senderStaffId: staffId,
      sessionWebhookExpiredTime: expiresAt,
      createAt,
      senderCorpId: corpId,
      conversationType,
      senderId,
      ...(conversationType === "2"
        ? {
            conversationTitle:
              input.conversationTitle ?? DEMO_GROUP_TITLES[input.conversationId] ?? `Group ${input.conversationId}`,
          }
        : {}),
      isInAtList: true,
      sessionWebhook: `${webhookBase}/robot/sendBySession?session=${session}`,
      ...(input.typed ? { content: input.typed.content } : { text: { content: ` ${input.text}` } }),
      robotCode,
      msgtype: input.typed?.msgtype ?? "text",
    };
  }

  async function deliverHttp(message: Record<string, unknown>): Promise<number> {
    if (!opts.callbackUrl) throw new Error("fake DingTalk: no callbackUrl configured for HTTP-mode delivery");
    const timestamp = String(Date.now());
    let res: Response;
    try {
      res = await fetch(opts.callbackUrl, {
        method: "POST",
        headers: { "content-type": "application/json", timestamp, sign: robotSign(timestamp, opts.appSecret) },
        body: JSON.stringify(message),
        signal: AbortSignal.timeout(callbackTimeoutMs),
      });
    } catch (error) {
      const reason =
        (error as Error).name === "TimeoutError"
          ? `no response within ${callbackTimeoutMs} ms`
          : (((error as Error).cause as Error | undefined)?.message ?? (error as Error).message);
      throw new Error(`fake DingTalk: callback ${opts.callbackUrl} failed: ${reason}`);
    }
    const text = await res.text().catch(() => "");
    // A message JSON in the response body is a reply DingTalk posts to the chat.
    if (res.ok && text) {
      try {
        const reply = obj(JSON.parse(text));
        const content = reply && reply.msgtype !== "empty" ? messageContent(reply) : undefined;
        if (reply && content) {
          record({
            via: "callbackResponse",
            conversationId: String(message.conversationId),
            msgtype: String(reply.msgtype),
            ...content,
            body: reply,
            at: Date.now(),
          });
        }
      } catch {
        // not a reply
      }
    }
    return res.status;
  }

  async function deliverStream(message: Record<string, unknown>): Promise<void> {
    if (!(await waitForConnection(streamWaitMs))) {
      throw new Error(
        `fake DingTalk: no Stream connection subscribed to ${FAKE_ROBOT_TOPIC} within ${streamWaitMs} ms`,
      );
    }
    const messageId = randomUUID();
    const frame: PendingFrame = {
      messageId,
      msgId: String(message.msgId),
      acked: false,
      deliveries: 0,
      frame: JSON.stringify({
        specVersion: "1.0",
        type: "CALLBACK",
        headers: { topic: FAKE_ROBOT_TOPIC, messageId, contentType: "application/json", time: String(Date.now()) },
        data: JSON.stringify(message),
      }),
    };
    pending.set(messageId, frame);
    if (!push(frame)) redeliveryQueue.push(frame);
  }

  async function deliver(input: DeliverInput): Promise<DeliverResult> {
    if (closed) throw new Error("fake DingTalk is closed");
    const via = input.via ?? ([...conns].some((c) => subscribed(c)) || !opts.callbackUrl ? "stream" : "http");
    const message = robotMessage(input);
    delivered.push(message);
    const msgId = String(message.msgId);
    if (via === "http") return { msgId, status: await deliverHttp(message) };
    await deliverStream(message);
    return { msgId, status: 0 };
  }

  function waitForReplies(conversationId: string, count = 1, timeoutMs = 10_000): Promise<SentMessage[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const from = cursors.get(conversationId) ?? 0;
        const matches: number[] = [];
        for (let i = from; i < sent.length && matches.length < count; i++)
          if (sent[i]!.conversationId === conversationId) matches.push(i);
        if (matches.length < count) return false;
        cursors.set(conversationId, matches[matches.length - 1]! + 1);
        resolve(matches.map((i) => sent[i]!));
        return true;
      };
      if (check()) return;
      const listener = () => {
        if (check()) done();
      };
      const done = () => {
        clearTimeout(timer);
        sentListeners.delete(listener);
      };
      const timer = setTimeout(() => {
        done();
        const got = sent.slice(cursors.get(conversationId) ?? 0).filter((m) => m.conversationId === conversationId);
        reject(
          new Error(`fake DingTalk: ${got.length} of ${count} replies to ${conversationId} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      sentListeners.add(listener);
    });
  }

  function waitForAck(msgId: string, timeoutMs = 10_000): Promise<StreamAck> {
    const existing = acks.find((a) => a.msgId === msgId && a.code === 200);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const listener = (ack: StreamAck) => {
        if (ack.msgId !== msgId) return;
        clearTimeout(timer);
        ackListeners.delete(listener);
        resolve(ack);
      };
      const timer = setTimeout(() => {
        ackListeners.delete(listener);
        reject(new Error(`fake DingTalk: no ACK for ${msgId} within ${timeoutMs} ms`));
      }, timeoutMs);
      ackListeners.add(listener);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host && opts.host !== "0.0.0.0" && opts.host !== "::" ? opts.host : "127.0.0.1";
  const url = `http://${host}:${port}`;
  const wsBase = `ws://${host}:${port}`;
  const webhookBase = (opts.webhookBase ?? url).replace(/\/+$/, "");

  return {
    url,
    cards,
    clickCard,
    waitForCard,
    sent,
    acks,
    delivered,
    deliver,
    waitForReplies,
    waitForAck,
    streamConnections: () => [...conns].filter((c) => c.ws.readyState === WebSocket.OPEN).length,
    dropStreamConnections: () => {
      for (const conn of conns) conn.ws.terminate();
      conns.clear();
    },
    disconnectStreams: () => {
      for (const conn of conns) {
        if (conn.ws.readyState !== WebSocket.OPEN) continue;
        conn.ws.send(systemFrame("disconnect", { reason: "server is restarting" }).frame);
        const ws = conn.ws;
        later(5_000, () => ws.terminate());
      }
    },
    pingStreams,
    setThrottle: (perMinute) => {
      throttleAfter = perMinute;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(pingTimer);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const conn of conns) conn.ws.terminate();
      conns.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
