import { afterEach, describe, expect, it, vi } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { ROBOT_TOPIC } from "./messages.ts";
import { backoffDelay, DingTalkStreamClient, type StreamAck, type StreamMessage } from "./stream.ts";
import { json, startTestServer, type RecordedRequest, type TestServer } from "./test-server.ts";

/** A local stand-in for DingTalk's Stream gateway: connections/open plus the WebSocket, both on one port. */
interface Gateway {
  http: TestServer;
  opens: RecordedRequest[];
  /** Tickets presented on WebSocket upgrades, in order. */
  connectedTickets: string[];
  sockets: WebSocket[];
  /** Frames the client sent, parsed. */
  received: Record<string, unknown>[];
  failOpens: number;
  close(): Promise<void>;
}

async function startGateway(autoPong = true): Promise<Gateway> {
  const issued = new Set<string>();
  let n = 0;
  const gw: Gateway = {
    opens: [],
    connectedTickets: [],
    sockets: [],
    received: [],
    failOpens: 0,
    http: await startTestServer((req, res) => {
      if (req.method !== "POST" || req.path !== "/v1.0/gateway/connections/open") return json(res, 404, {});
      gw.opens.push(req);
      if (gw.failOpens > 0) {
        gw.failOpens--;
        return json(res, 500, { code: "ServiceUnavailable" });
      }
      const ticket = `ticket-${++n}-${Math.random().toString(36).slice(2)}`;
      issued.add(ticket);
      json(res, 200, { endpoint: `${gw.http.url.replace("http", "ws")}/connect`, ticket });
    }),
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await gw.http.close();
    },
  };
  const wss = new WebSocketServer({ noServer: true, autoPong });
  gw.http.server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "", "http://x");
    const ticket = url.searchParams.get("ticket") ?? "";
    // Single-use tickets, as DingTalk's.
    if (url.pathname !== "/connect" || !issued.delete(ticket)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\n\r\n");
      return;
    }
    gw.connectedTickets.push(ticket);
    wss.handleUpgrade(req, socket, head, (ws) => {
      gw.sockets.push(ws);
      ws.on("message", (raw) => gw.received.push(JSON.parse(raw.toString()) as Record<string, unknown>));
    });
  });
  return gw;
}

async function waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const frame = (type: string, topic: string, messageId: string, data: unknown) =>
  JSON.stringify({
    specVersion: "1.0",
    type,
    headers: { topic, messageId, contentType: "application/json", time: "1700000000000" },
    data: JSON.stringify(data),
  });

const robotMessage = {
  msgId: "msg-1",
  msgtype: "text",
  text: { content: " hi" },
  conversationId: "cid1",
  conversationType: "2",
  senderId: "s1",
  createAt: 1,
};

let gateway: Gateway | undefined;
let client: DingTalkStreamClient | undefined;
afterEach(async () => {
  await client?.stop();
  await gateway?.close();
  client = gateway = undefined;
});

async function connect(
  onMessage: (msg: StreamMessage) => Promise<StreamAck> = async () => "ack",
  baseMs = 20,
  maxMs = 1_000,
) {
  gateway = await startGateway();
  client = new DingTalkStreamClient({
    clientId: "appkey",
    clientSecret: "appsecret",
    apiBase: gateway.http.url,
    onMessage,
    backoff: { baseMs, maxMs },
  });
  return { gw: gateway, c: client };
}

const lastSocket = (gw: Gateway) => gw.sockets.at(-1)!;
const sentFor = (gw: Gateway, messageId: string) =>
  gw.received.filter((f) => (f.headers as { messageId?: string } | undefined)?.messageId === messageId);

describe("DingTalkStreamClient", () => {
  it("opens a connection with the documented request and connects with the ticket", async () => {
    const { gw, c } = await connect();
    const connected = vi.fn();
    c.on("connected", connected);
    await c.start();
    expect(connected).toHaveBeenCalledTimes(1);
    expect(gw.opens).toHaveLength(1);
    const open = gw.opens[0]!;
    expect(open.headers).toMatchObject({ "content-type": "application/json", accept: "application/json" });
    expect(open.body).toMatchObject({
      clientId: "appkey",
      clientSecret: "appsecret",
      subscriptions: [
        { type: "EVENT", topic: "*" },
        { type: "CALLBACK", topic: ROBOT_TOPIC },
        { type: "CALLBACK", topic: "/v1.0/card/instances/callback" },
      ],
      ua: expect.any(String),
      localIp: expect.any(String),
    });
    await waitFor(() => gw.sockets.length === 1, "the socket");
    expect(gw.connectedTickets).toHaveLength(1);
  });

  it("hands a CALLBACK to onMessage and sends exactly the documented ACK", async () => {
    const seen: StreamMessage[] = [];
    const { gw, c } = await connect(async (m) => (seen.push(m), "ack"));
    await c.start();
    await waitFor(() => gw.sockets.length === 1, "the socket");
    lastSocket(gw).send(frame("CALLBACK", ROBOT_TOPIC, "m-1", robotMessage));
    const [ack] = await waitFor(() => sentFor(gw, "m-1").length > 0 && sentFor(gw, "m-1"), "the ACK");
    expect(ack).toEqual({
      code: 200,
      headers: { messageId: "m-1", contentType: "application/json" },
      message: "OK",
      data: JSON.stringify({ response: null }),
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      topic: ROBOT_TOPIC,
      messageId: "m-1",
      headers: { topic: ROBOT_TOPIC, messageId: "m-1", time: "1700000000000" },
    });
    expect(JSON.parse(seen[0]!.data)).toEqual(robotMessage);
  });

  it("sends nothing for no-ack, nor when onMessage throws or answers later for a CALLBACK", async () => {
    const errors: unknown[] = [];
    const { gw, c } = await connect(async (m) => {
      if (m.messageId === "boom") throw new Error("db down");
      return m.messageId === "later" ? "later" : "no-ack";
    });
    c.on("error", (e) => errors.push(e));
    await c.start();
    await waitFor(() => gw.sockets.length === 1, "the socket");
    for (const id of ["no", "boom", "later"]) lastSocket(gw).send(frame("CALLBACK", ROBOT_TOPIC, id, robotMessage));
    // A ping sent after them comes back after any ACK they would have produced.
    lastSocket(gw).send(frame("SYSTEM", "ping", "p-1", { opaque: "x" }));
    await waitFor(() => sentFor(gw, "p-1").length > 0, "the ping echo");
    await new Promise((r) => setTimeout(r, 50));
    expect(gw.received.map((f) => (f.headers as { messageId: string }).messageId)).toEqual(["p-1"]);
    expect(errors).toEqual([expect.objectContaining({ message: "db down" })]);
  });

  it("answers EVENT frames with SUCCESS or LATER", async () => {
    const { gw, c } = await connect(async (m) => (m.messageId === "e-1" ? "ack" : "later"));
    await c.start();
    await waitFor(() => gw.sockets.length === 1, "the socket");
    lastSocket(gw).send(frame("EVENT", "chat_update_title", "e-1", {}));
    lastSocket(gw).send(frame("EVENT", "chat_update_title", "e-2", {}));
    await waitFor(() => gw.received.length === 2, "two ACKs");
    expect(sentFor(gw, "e-1")[0]).toEqual({
      code: 200,
      headers: { messageId: "e-1", contentType: "application/json" },
      message: "OK",
      data: '{"status":"SUCCESS"}',
    });
    expect(sentFor(gw, "e-2")[0]).toMatchObject({ code: 200, data: '{"status":"LATER"}' });
  });

  it("echoes a SYSTEM ping with the same messageId and data, without calling onMessage", async () => {
    const onMessage = vi.fn(async () => "ack" as const);
    const { gw, c } = await connect(onMessage);
    await c.start();
    await waitFor(() => gw.sockets.length === 1, "the socket");
    lastSocket(gw).send(frame("SYSTEM", "ping", "ping-7", { opaque: "abc-123" }));
    const [pong] = await waitFor(() => sentFor(gw, "ping-7").length > 0 && sentFor(gw, "ping-7"), "the echo");
    expect(pong).toMatchObject({
      code: 200,
      message: "OK",
      headers: { messageId: "ping-7" },
      data: JSON.stringify({ opaque: "abc-123" }),
    });
    expect(onMessage).not.toHaveBeenCalled();
  });

  it("ignores a malformed frame and keeps the connection", async () => {
    const { gw, c } = await connect();
    await c.start();
    await waitFor(() => gw.sockets.length === 1, "the socket");
    lastSocket(gw).send("not json");
    lastSocket(gw).send(JSON.stringify({ type: "CALLBACK", headers: {}, data: "{}" }));
    lastSocket(gw).send(frame("SYSTEM", "ping", "p-2", {}));
    await waitFor(() => sentFor(gw, "p-2").length > 0, "the ping echo");
    expect(gw.sockets).toHaveLength(1);
  });

  it("on SYSTEM disconnect reconnects at once with a new ticket", async () => {
    const { gw, c } = await connect(undefined, 10_000, 60_000); // a backoff this long would time the test out
    const disconnected = vi.fn();
    c.on("disconnected", disconnected);
    await c.start();
    await waitFor(() => gw.sockets.length === 1, "the socket");
    const first = lastSocket(gw);
    first.send(frame("SYSTEM", "disconnect", "d-1", { reason: "rotation" }));
    await waitFor(() => gw.connectedTickets.length === 2, "the second connection", 2_000);
    expect(new Set(gw.connectedTickets).size).toBe(2);
    expect(gw.opens).toHaveLength(2);
    expect(sentFor(gw, "d-1")).toEqual([]);
    expect(first.readyState).not.toBe(WebSocket.OPEN);
    expect(disconnected).toHaveBeenCalledTimes(1);
  });

  it("reconnects after a backoff when the gateway closes the socket", async () => {
    const { gw, c } = await connect(undefined, 100);
    await c.start();
    await waitFor(() => gw.sockets.length === 1, "the socket");
    const closedAt = Date.now();
    lastSocket(gw).terminate();
    await waitFor(() => gw.sockets.length === 2, "the reconnection");
    // First retry: base * 2^0 + rand(0..base), so between 100 and 200 ms.
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(90);
    expect(new Set(gw.connectedTickets).size).toBe(2);
    // Still working on the new socket.
    lastSocket(gw).send(frame("CALLBACK", ROBOT_TOPIC, "after", robotMessage));
    await waitFor(() => sentFor(gw, "after").length > 0, "the ACK on the new socket");
  });

  it("retries a failing connections/open with growing delays, then connects", async () => {
    const { gw, c } = await connect(undefined, 50);
    gw.failOpens = 2;
    const errors: unknown[] = [];
    c.on("error", (e) => errors.push(e));
    const started = Date.now();
    await c.start();
    // 50..100 ms after the first failure, 100..150 ms after the second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(gw.opens).toHaveLength(3);
    expect(errors).toEqual([
      expect.objectContaining({ name: "DingTalkApiError", status: 500 }),
      expect.objectContaining({ status: 500 }),
    ]);
  });

  it("drops a connection whose peer stops answering pings and reconnects", async () => {
    gateway = await startGateway(false);
    client = new DingTalkStreamClient({
      clientId: "k",
      clientSecret: "s",
      apiBase: gateway.http.url,
      onMessage: async () => "ack",
      backoff: { baseMs: 10 },
      keepAliveMs: 50,
    });
    await client.start();
    await waitFor(() => gateway!.connectedTickets.length >= 2, "a reconnection after missed pongs", 2_000);
  });

  it("stop() closes the socket cleanly and stops reconnecting", async () => {
    const { gw, c } = await connect();
    await c.start();
    await waitFor(() => gw.sockets.length === 1, "the socket");
    const closed = new Promise<number>((resolve) => lastSocket(gw).on("close", (code) => resolve(code)));
    await c.stop();
    expect(await closed).toBe(1000);
    await new Promise((r) => setTimeout(r, 200)); // ten base backoffs
    expect(gw.opens).toHaveLength(1);
    expect(gw.sockets).toHaveLength(1);
    await expect(c.start()).rejects.toThrow(/stopped/);
  });

  it("stop() ends a retry loop and releases a pending start()", async () => {
    const { gw, c } = await connect();
    gw.failOpens = Infinity;
    const starting = c.start();
    await waitFor(() => gw.opens.length >= 2, "a retry");
    await c.stop();
    await starting;
    const opens = gw.opens.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(gw.opens.length).toBe(opens);
  });
});

describe("backoffDelay", () => {
  it("doubles from base, adds up to base of jitter and caps at max", () => {
    expect(backoffDelay(0, 1_000, 60_000, () => 0)).toBe(1_000);
    expect(backoffDelay(3, 1_000, 60_000, () => 0.5)).toBe(8_500);
    expect(backoffDelay(10, 1_000, 60_000, () => 0.99)).toBe(60_000);
  });
});
