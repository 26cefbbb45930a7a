/**
 * The fake DingTalk, exercised over real HTTP and WebSocket the way the runtime talks to it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { verifyRobotSignature } from "@clawgate/dingtalk";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startFakeDingTalk, type FakeDingTalk, type FakeDingTalkOptions } from "../src/fake-dingtalk.ts";

const APP_KEY = "dingtestappkey";
const APP_SECRET = "test-app-secret-0123456789";
const ROBOT_TOPIC = "/v1.0/im/bot/messages/get";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function fake(overrides: Partial<FakeDingTalkOptions> = {}): Promise<FakeDingTalk> {
  const f = await startFakeDingTalk({
    port: 0,
    appKey: APP_KEY,
    appSecret: APP_SECRET,
    pingIntervalMs: 0,
    ...overrides,
  });
  cleanups.push(() => f.close());
  return f;
}

interface Received {
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

/** A stand-in for the runtime's HTTP-mode endpoint. `onMessage` may reply; its return is the response body. */
async function receiver(
  onMessage: (msg: Received) => Promise<unknown> | unknown = () => undefined,
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const msg = {
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
      };
      received.push(msg);
      void Promise.resolve(onMessage(msg)).then((reply) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(reply ?? { msgtype: "empty" }));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dingtalk/robot`, received };
}

async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function token(f: FakeDingTalk): Promise<string> {
  const { status, json } = await post(`${f.url}/v1.0/oauth2/accessToken`, { appKey: APP_KEY, appSecret: APP_SECRET });
  expect(status).toBe(200);
  return json.accessToken as string;
}

interface Frame {
  specVersion?: string;
  type: string;
  headers: Record<string, string>;
  data: string;
}

/** A raw Stream-mode client: opens a connection the documented way and collects frames. */
async function streamClient(f: FakeDingTalk, subscriptions = [{ type: "CALLBACK", topic: ROBOT_TOPIC }]) {
  const { status, json } = await post(`${f.url}/v1.0/gateway/connections/open`, {
    clientId: APP_KEY,
    clientSecret: APP_SECRET,
    subscriptions,
    ua: "clawgate-test/1.0",
    localIp: "127.0.0.1",
  });
  expect(status).toBe(200);
  const endpoint = json.endpoint as string;
  const ticket = json.ticket as string;
  const ws = new WebSocket(`${endpoint}?ticket=${encodeURIComponent(ticket)}`);
  const frames: Frame[] = [];
  const waiters: (() => void)[] = [];
  ws.on("message", (raw) => {
    frames.push(JSON.parse(raw.toString()) as Frame);
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  cleanups.push(() => ws.terminate());
  const nextFrame = async (index: number, timeoutMs = 5_000): Promise<Frame> => {
    const deadline = Date.now() + timeoutMs;
    while (frames.length <= index) {
      if (Date.now() > deadline) throw new Error(`no frame #${index} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return frames[index]!;
  };
  const ack = (frame: Frame) =>
    ws.send(
      JSON.stringify({
        code: 200,
        headers: { messageId: frame.headers.messageId, contentType: "application/json" },
        message: "OK",
        data: JSON.stringify({ response: null }),
      }),
    );
  return { ws, endpoint, ticket, frames, nextFrame, ack };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("fake DingTalk: access token", () => {
  it("issues a token for the app's key and secret and rejects a wrong secret", async () => {
    const f = await fake();
    const ok = await post(`${f.url}/v1.0/oauth2/accessToken`, { appKey: APP_KEY, appSecret: APP_SECRET });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ accessToken: expect.any(String), expireIn: 7200 });

    const bad = await post(`${f.url}/v1.0/oauth2/accessToken`, { appKey: APP_KEY, appSecret: "wrong" });
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe("invalidClientIdOrSecret");
    expect(bad.json.accessToken).toBeUndefined();
  });
});

describe("fake DingTalk: HTTP mode", () => {
  it("signs the callback like DingTalk and carries a valid sessionWebhook", async () => {
    const rx = await receiver();
    const f = await fake({ callbackUrl: rx.url });
    const before = Date.now();
    const result = await f.deliver({
      conversationId: "cid-demo-group",
      text: "hello robot",
      senderId: "u-alice",
      senderNick: "Alice",
    });
    expect(result.status).toBe(200);
    expect(rx.received).toHaveLength(1);
    const { headers, body } = rx.received[0]!;
    expect(headers["content-type"]).toMatch(/^application\/json/);
    expect(
      verifyRobotSignature({ timestamp: headers.timestamp as string, sign: headers.sign as string }, APP_SECRET),
    ).toEqual({ ok: true });
    expect(
      verifyRobotSignature({ timestamp: headers.timestamp as string, sign: headers.sign as string }, "another-secret"),
    ).toMatchObject({ ok: false });
    expect(body).toMatchObject({
      msgtype: "text",
      text: { content: " hello robot" },
      msgId: result.msgId,
      conversationType: "2",
      conversationId: "cid-demo-group",
      conversationTitle: "Clawgate demo group",
      senderId: "u-alice",
      senderStaffId: "u-alice",
      senderNick: "Alice",
      chatbotUserId: expect.any(String),
      robotCode: APP_KEY,
      isInAtList: true,
    });
    expect(body.createAt as number).toBeGreaterThanOrEqual(before);
    expect(body.sessionWebhookExpiredTime).toBe((body.createAt as number) + 90 * 60_000);
    expect(body.sessionWebhook as string).toMatch(new RegExp(`^${f.url}/robot/sendBySession\\?session=`));

    // msgId is unique per delivery unless given.
    const again = await f.deliver({ conversationId: "cid-demo-group", text: "hello robot" });
    expect(again.msgId).not.toBe(result.msgId);
    const given = await f.deliver({ conversationId: "cid-demo-group", text: "dup", msgId: "msg-fixed" });
    expect(given.msgId).toBe("msg-fixed");
    expect(rx.received[2]!.body.msgId).toBe("msg-fixed");
  });

  it("records a reply posted to the sessionWebhook; waitForReplies resolves", async () => {
    const rx = await receiver();
    const f = await fake({ callbackUrl: rx.url });
    await f.deliver({ conversationId: "cid-1", text: "ping" });
    const webhook = rx.received[0]!.body.sessionWebhook as string;

    const pending = f.waitForReplies("cid-1");
    const res = await post(webhook, { msgtype: "text", text: { content: "pong" } });
    expect(res).toEqual({ status: 200, json: { errcode: 0, errmsg: "ok" } });
    const [reply] = await pending;
    expect(reply).toMatchObject({ via: "sessionWebhook", conversationId: "cid-1", msgtype: "text", text: "pong" });
    expect(f.sent).toHaveLength(1);

    // A reply that lands before waitForReplies is called is not missed; one already returned is not repeated.
    await post(webhook, { msgtype: "markdown", markdown: { title: "T", text: "**two**" } });
    const [second] = await f.waitForReplies("cid-1");
    expect(second).toMatchObject({ msgtype: "markdown", text: "**two**", title: "T" });
    await expect(f.waitForReplies("cid-1", 1, 200)).rejects.toThrow(/0 of 1 replies/);

    // A malformed message is refused and not recorded.
    const bad = await post(webhook, { msgtype: "text", text: {} });
    expect(bad.status).toBe(400);
    expect(bad.json.errcode).not.toBe(0);
    expect(f.sent).toHaveLength(2);

    const listed = (await (await fetch(`${f.url}/_fake/sent?conversationId=cid-1`)).json()) as { sent: unknown[] };
    expect(listed.sent).toHaveLength(2);
  });

  it("rejects an expired or unknown session", async () => {
    const rx = await receiver();
    const f = await fake({ callbackUrl: rx.url });
    await f.deliver({ conversationId: "cid-2", text: "late", sessionWebhookExpired: true });
    const body = rx.received[0]!.body;
    expect(body.sessionWebhookExpiredTime as number).toBeLessThan(Date.now());
    const expired = await post(body.sessionWebhook as string, { msgtype: "text", text: { content: "too late" } });
    expect(expired.status).toBeGreaterThanOrEqual(400);
    expect(expired.json.errcode).not.toBe(0);

    const unknown = await post(`${f.url}/robot/sendBySession?session=nope`, {
      msgtype: "text",
      text: { content: "x" },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json.errcode).not.toBe(0);
    expect(f.sent).toHaveLength(0);
  });

  it("records a reply given in the callback's response body", async () => {
    const rx = await receiver(() => ({ msgtype: "text", text: { content: "inline answer" } }));
    const f = await fake({ callbackUrl: rx.url });
    await f.deliver({ conversationId: "cid-3", text: "q" });
    expect(f.sent).toMatchObject([{ via: "callbackResponse", conversationId: "cid-3", text: "inline answer" }]);
  });

  it("fails clearly when the callback is unreachable", async () => {
    const f = await fake({ callbackUrl: "http://127.0.0.1:1/dingtalk/robot" });
    await expect(f.deliver({ conversationId: "cid-x", text: "x", via: "http" })).rejects.toThrow(/callback .* failed/);
  });
});

describe("fake DingTalk: OpenAPI robot sends", () => {
  it("sends to a group only with a valid access token, robotCode and msgParam", async () => {
    const f = await fake();
    const send = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      post(`${f.url}/v1.0/robot/groupMessages/send`, body, headers);
    const message = {
      robotCode: APP_KEY,
      openConversationId: "cid-g",
      msgKey: "sampleMarkdown",
      msgParam: JSON.stringify({ title: "Hi", text: "# hello" }),
    };

    expect((await send(message)).status).toBe(401);
    expect((await send(message, { "x-acs-dingtalk-access-token": "forged" })).status).toBe(401);
    expect(f.sent).toHaveLength(0);

    const headers = { "x-acs-dingtalk-access-token": await token(f) };
    const ok = await send(message, headers);
    expect(ok.status).toBe(200);
    expect(ok.json.processQueryKey).toEqual(expect.any(String));
    expect(f.sent).toMatchObject([
      { via: "groupMessages", conversationId: "cid-g", msgKey: "sampleMarkdown", text: "# hello", title: "Hi" },
    ]);
    expect(await f.waitForReplies("cid-g")).toHaveLength(1);

    expect((await send({ ...message, robotCode: "other-robot" }, headers)).status).toBe(400);
    expect((await send({ ...message, msgParam: "{not json" }, headers)).status).toBe(400);
    expect((await send({ ...message, msgKey: "sampleNope" }, headers)).status).toBe(400);
    expect(
      (await send({ ...message, msgParam: JSON.stringify({ content: "x".repeat(15_001) }) }, headers)).status,
    ).toBe(400);
    expect(f.sent).toHaveLength(1);
  });

  it("one-to-one sends land in the user's single chat", async () => {
    const rx = await receiver();
    const f = await fake({ callbackUrl: rx.url });
    await f.deliver({ conversationId: "cid-single-bob", text: "hi", senderId: "bob", conversationType: "1" });
    expect(rx.received[0]!.body).toMatchObject({ conversationType: "1", senderStaffId: "bob" });
    expect(rx.received[0]!.body.conversationTitle).toBeUndefined();
    const res = await post(
      `${f.url}/v1.0/robot/oToMessages/batchSend`,
      { robotCode: APP_KEY, userIds: ["bob"], msgKey: "sampleText", msgParam: JSON.stringify({ content: "approved" }) },
      { "x-acs-dingtalk-access-token": await token(f) },
    );
    expect(res.status).toBe(200);
    const [reply] = await f.waitForReplies("cid-single-bob");
    expect(reply).toMatchObject({ via: "oToMessages", userIds: ["bob"], msgKey: "sampleText", text: "approved" });
  });

  it("throttles when asked: send.too.fast on OpenAPI, errcode 410100 on the sessionWebhook", async () => {
    const rx = await receiver();
    const f = await fake({ callbackUrl: rx.url, throttleAfter: 2 });
    const headers = { "x-acs-dingtalk-access-token": await token(f) };
    const message = {
      robotCode: APP_KEY,
      openConversationId: "cid-t",
      msgKey: "sampleText",
      msgParam: JSON.stringify({ content: "x" }),
    };
    expect((await post(`${f.url}/v1.0/robot/groupMessages/send`, message, headers)).status).toBe(200);
    expect((await post(`${f.url}/v1.0/robot/groupMessages/send`, message, headers)).status).toBe(200);
    const limited = await post(`${f.url}/v1.0/robot/groupMessages/send`, message, headers);
    expect(limited).toMatchObject({ status: 429, json: { code: "send.too.fast" } });

    await f.deliver({ conversationId: "cid-t", text: "hi" });
    const webhook = await post(rx.received[0]!.body.sessionWebhook as string, {
      msgtype: "text",
      text: { content: "y" },
    });
    expect(webhook.json.errcode).toBe(410100);
    expect(f.sent).toHaveLength(2);

    f.setThrottle(undefined);
    expect((await post(`${f.url}/v1.0/robot/groupMessages/send`, message, headers)).status).toBe(200);
  });
});

describe("fake DingTalk: Stream mode", () => {
  it("opens a connection, pushes the CALLBACK frame and records the ACK", async () => {
    const f = await fake({ streamAckTimeoutMs: 300 });
    const client = await streamClient(f);
    expect(client.endpoint).toBe(`${f.url.replace("http", "ws")}/connect`);
    expect(f.streamConnections()).toBe(1);

    const { msgId, status } = await f.deliver({ conversationId: "cid-s", text: "over the stream", via: "stream" });
    expect(status).toBe(0);
    const frame = await client.nextFrame(0);
    expect(frame).toMatchObject({
      specVersion: "1.0",
      type: "CALLBACK",
      headers: { topic: ROBOT_TOPIC, contentType: "application/json" },
    });
    expect(frame.headers.messageId).toEqual(expect.any(String));
    expect(Number(frame.headers.time)).toBeGreaterThan(0);
    const message = JSON.parse(frame.data) as Record<string, unknown>;
    expect(message).toMatchObject({
      msgId,
      msgtype: "text",
      text: { content: " over the stream" },
      conversationId: "cid-s",
    });
    expect(message.sessionWebhook as string).toContain("/robot/sendBySession?session=");

    client.ack(frame);
    const ack = await f.waitForAck(msgId);
    expect(ack).toMatchObject({
      messageId: frame.headers.messageId,
      msgId,
      kind: "callback",
      code: 200,
      data: { response: null },
    });
    await sleep(600); // past the ACK timeout: an ACKed frame is not redelivered
    expect(client.frames).toHaveLength(1);

    // Replies still go through the sessionWebhook.
    await post(message.sessionWebhook as string, { msgtype: "text", text: { content: "streamed reply" } });
    expect((await f.waitForReplies("cid-s"))[0]!.text).toBe("streamed reply");
  });

  it("refuses wrong credentials and a reused or unknown ticket", async () => {
    const f = await fake();
    const bad = await post(`${f.url}/v1.0/gateway/connections/open`, {
      clientId: APP_KEY,
      clientSecret: "wrong",
      subscriptions: [{ type: "CALLBACK", topic: ROBOT_TOPIC }],
    });
    expect(bad.status).toBe(401);

    const client = await streamClient(f);
    const refused = (url: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.on("unexpected-response", (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on("open", () => {
          ws.terminate();
          reject(new Error("connected"));
        });
        ws.on("error", () => undefined);
      });
    expect(await refused(`${client.endpoint}?ticket=${encodeURIComponent(client.ticket)}`)).toBe(401);
    expect(await refused(`${client.endpoint}?ticket=made-up`)).toBe(401);
    expect(f.streamConnections()).toBe(1);
  });

  it("redelivers an unACKed frame once, and not at all when disabled", async () => {
    const f = await fake({ streamAckTimeoutMs: 200 });
    const client = await streamClient(f);
    await f.deliver({ conversationId: "cid-r", text: "ack me", via: "stream" });
    const first = await client.nextFrame(0);
    const second = await client.nextFrame(1, 2_000);
    expect(second.headers.messageId).toBe(first.headers.messageId);
    expect(second.data).toBe(first.data);
    await sleep(600);
    expect(client.frames).toHaveLength(2);

    const quiet = await fake({ streamAckTimeoutMs: 200, redeliverUnacked: false });
    const other = await streamClient(quiet);
    await quiet.deliver({ conversationId: "cid-r", text: "once", via: "stream" });
    await other.nextFrame(0);
    await sleep(600);
    expect(other.frames).toHaveLength(1);
  });

  it("pushes only to connections subscribed to the robot topic", async () => {
    const f = await fake({ streamWaitMs: 300 });
    await streamClient(f, [{ type: "EVENT", topic: "*" }]);
    await expect(f.deliver({ conversationId: "cid-x", text: "x", via: "stream" })).rejects.toThrow(
      /no Stream connection/,
    );
  });

  it("sends SYSTEM pings (echo recorded), SYSTEM disconnect, and can drop connections", async () => {
    const f = await fake();
    const client = await streamClient(f);
    const [pingId] = f.pingStreams();
    const ping = await client.nextFrame(0);
    expect(ping).toMatchObject({ type: "SYSTEM", headers: { topic: "ping", messageId: pingId } });
    const opaque = (JSON.parse(ping.data) as { opaque: string }).opaque;
    expect(opaque).toEqual(expect.any(String));
    client.ws.send(JSON.stringify({ code: 200, headers: ping.headers, message: "OK", data: ping.data }));
    await expect
      .poll(() => f.acks.find((a) => a.messageId === pingId))
      .toMatchObject({ kind: "ping", code: 200, data: { opaque } });

    f.disconnectStreams();
    expect(await client.nextFrame(1)).toMatchObject({ type: "SYSTEM", headers: { topic: "disconnect" } });

    const closed = new Promise((r) => client.ws.once("close", r));
    f.dropStreamConnections();
    await closed;
    expect(f.streamConnections()).toBe(0);
  });

  it("defaults deliveries to the stream when a Stream client is connected", async () => {
    const rx = await receiver();
    const f = await fake({ callbackUrl: rx.url });
    const client = await streamClient(f);
    const { status } = await f.deliver({ conversationId: "cid-d", text: "which way" });
    expect(status).toBe(0);
    expect((await client.nextFrame(0)).type).toBe("CALLBACK");
    expect(rx.received).toHaveLength(0);
  });
});

describe("fake DingTalk: control API", () => {
  it("POST /_fake/say delivers and returns the replies the robot posted back", async () => {
    const rx = await receiver(async ({ body }) => {
      const webhook = body.sessionWebhook as string;
      const text = (body.text as { content: string }).content.trim();
      // Acknowledge first, reply a little later, as the runtime does.
      setTimeout(() => {
        void post(webhook, { msgtype: "text", text: { content: `echo: ${text}` } }).then(() =>
          post(webhook, { msgtype: "markdown", markdown: { title: "more", text: "and more" } }),
        );
      }, 50);
      return undefined;
    });
    const f = await fake({ callbackUrl: rx.url });
    const res = await post(`${f.url}/_fake/say`, {
      conversationId: "cid-demo-group",
      text: "hello",
      senderId: "carol",
      timeoutMs: 5_000,
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ msgId: expect.any(String), status: 200 });
    expect(res.json.replies).toMatchObject([
      { via: "sessionWebhook", conversationId: "cid-demo-group", text: "echo: hello" },
      { via: "sessionWebhook", conversationId: "cid-demo-group", text: "and more" },
    ]);
    expect(rx.received[0]!.body.senderStaffId).toBe("carol");

    const all = (await (await fetch(`${f.url}/_fake/sent`)).json()) as { sent: unknown[] };
    expect(all.sent).toHaveLength(2);
  });

  it("returns no replies when the robot stays silent, and 502 when it cannot be reached", async () => {
    const rx = await receiver();
    const f = await fake({ callbackUrl: rx.url });
    const silent = await post(`${f.url}/_fake/say`, { conversationId: "cid-q", text: "anyone?", timeoutMs: 300 });
    expect(silent).toMatchObject({ status: 200, json: { status: 200, replies: [] } });

    const down = await fake({ callbackUrl: "http://127.0.0.1:1/dingtalk/robot" });
    const unreachable = await post(`${down.url}/_fake/say`, { conversationId: "cid-q", text: "anyone?" });
    expect(unreachable.status).toBe(502);
    expect(unreachable.json.message).toMatch(/callback/);
    expect((await post(`${f.url}/_fake/say`, { text: "no conversation" })).status).toBe(400);
  });
});
