/**
 * Stream mode (shared/notes/dingtalk-protocol.md §2): we open a WebSocket to DingTalk's gateway
 * instead of exposing an HTTP endpoint. One ticket per connection; every reconnect asks for a new one.
 */
import { EventEmitter } from "node:events";
import { networkInterfaces } from "node:os";
import WebSocket from "ws";
import { z } from "zod";
import { DingTalkApiError, openApiError, postJson } from "./http.ts";
import { CARD_TOPIC } from "./cards.ts";
import { ROBOT_TOPIC, streamFrameSchema, type StreamFrame } from "./messages.ts";

/** A CALLBACK may be answered with data (a card callback's card update): `{ response }`. */
export type StreamAck = "ack" | "later" | "no-ack" | { response: unknown };

export interface StreamMessage {
  topic: string;
  messageId: string;
  /** The frame's `data`: a JSON string, the robot message body for ROBOT_TOPIC. */
  data: string;
  headers: Record<string, string>;
}

/** pino's Logger fits; nothing here logs secrets, tickets or message data. */
export interface StreamLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface DingTalkStreamOptions {
  clientId: string;
  clientSecret: string;
  /** DINGTALK_API_BASE, e.g. https://api.dingtalk.com */
  apiBase: string;
  /** "ack" acknowledges, "later" asks for redelivery (EVENT), "no-ack" sends nothing so DingTalk redelivers. */
  onMessage: (msg: StreamMessage) => Promise<StreamAck>;
  logger?: StreamLogger;
  backoff?: { baseMs?: number; maxMs?: number };
  /** Our own WebSocket ping: a silently dead TCP connection is noticed within two intervals. */
  keepAliveMs?: number;
  /** For the connections/open request and the WebSocket handshake. */
  timeoutMs?: number;
}

/** The SDKs' reconnect schedule: min(base * 2^attempt + rand(0..base), max). */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  return Math.min(baseMs * 2 ** attempt + random() * baseMs, maxMs);
}

const OPEN_PATH = "/v1.0/gateway/connections/open";
const openResponseSchema = z.object({ endpoint: z.string().regex(/^wss?:\/\//), ticket: z.string().min(1) });

const silentLogger: StreamLogger = { debug() {}, info() {}, warn() {} };

/** One WebSocket and what we know about how it ended. */
interface Connection {
  ws: WebSocket;
  opened: boolean;
  /** The gateway sent SYSTEM disconnect: reconnect at once, not after a backoff. */
  rotating: boolean;
}

export class DingTalkStreamClient extends EventEmitter {
  readonly #opts: DingTalkStreamOptions;
  readonly #log: StreamLogger;
  #started?: Promise<void>;
  #resolveStarted?: () => void;
  #stopped = false;
  #attempt = 0;
  #timer?: NodeJS.Timeout;
  #abort?: AbortController;
  #conn?: Connection;

  constructor(opts: DingTalkStreamOptions) {
    super();
    this.#opts = opts;
    this.#log = opts.logger ?? silentLogger;
  }

  /** Resolves once the first connection is open (it keeps retrying until then), or when stop() is called first. */
  start(): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error("DingTalkStreamClient was stopped; create a new one"));
    this.#started ??= new Promise<void>((resolve) => {
      this.#resolveStarted = resolve;
      void this.#connect();
    });
    return this.#started;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort?.abort();
    this.#resolveStarted?.();
    const ws = this.#conn?.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once("close", () => resolve());
      closeSocket(ws, "client stopping");
    });
  }

  async #connect(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped) return;
    let url: URL;
    try {
      const { endpoint, ticket } = await this.#openConnection();
      url = new URL(endpoint);
      url.searchParams.set("ticket", ticket);
    } catch (error) {
      this.#fail(error);
      this.#scheduleReconnect(false);
      return;
    }
    if (this.#stopped) return;
    this.#log.debug({ host: url.host }, "dingtalk stream: connecting");
    const conn: Connection = {
      ws: new WebSocket(url, { handshakeTimeout: this.#opts.timeoutMs ?? 10_000 }),
      opened: false,
      rotating: false,
    };
    this.#conn = conn;
    const keepAlive = this.#keepAlive(conn);
    conn.ws.on("open", () => {
      conn.opened = true;
      this.#attempt = 0;
      this.#log.info({ host: url.host }, "dingtalk stream: connected");
      this.emit("connected");
      this.#resolveStarted?.();
    });
    conn.ws.on("message", (raw) => void this.#onFrame(conn, raw.toString()));
    conn.ws.on("error", (error) => this.#fail(error));
    conn.ws.on("close", (code) => {
      clearInterval(keepAlive);
      if (this.#conn === conn) this.#conn = undefined;
      if (conn.opened) {
        this.#log.info({ code, rotating: conn.rotating }, "dingtalk stream: disconnected");
        this.emit("disconnected", { code });
      }
      this.#scheduleReconnect(conn.rotating);
    });
  }

  async #openConnection(): Promise<z.infer<typeof openResponseSchema>> {
    this.#abort = new AbortController();
    const res = await postJson(
      fetch,
      this.#opts.apiBase.replace(/\/+$/, "") + OPEN_PATH,
      {
        clientId: this.#opts.clientId,
        clientSecret: this.#opts.clientSecret,
        subscriptions: [
          { type: "EVENT", topic: "*" },
          { type: "CALLBACK", topic: ROBOT_TOPIC },
          { type: "CALLBACK", topic: CARD_TOPIC },
        ],
        ua: "clawgate-dingtalk/0.1",
        localIp: localIp(),
      },
      { timeoutMs: this.#opts.timeoutMs, signal: this.#abort.signal },
    );
    if (res.status < 200 || res.status >= 300) throw openApiError(OPEN_PATH, res);
    const parsed = openResponseSchema.safeParse(res.body);
    if (!parsed.success)
      throw new DingTalkApiError("connections/open response has no endpoint/ticket", {
        status: res.status,
        code: "bad_response",
      });
    return parsed.data;
  }

  #scheduleReconnect(immediately: boolean): void {
    if (this.#stopped || this.#timer) return;
    const { baseMs = 1_000, maxMs = 60_000 } = this.#opts.backoff ?? {};
    const delayMs = immediately ? 0 : Math.round(backoffDelay(this.#attempt++, baseMs, maxMs));
    this.#log.info({ delayMs }, "dingtalk stream: reconnecting");
    this.#timer = setTimeout(() => void this.#connect(), delayMs);
  }

  #keepAlive(conn: Connection): NodeJS.Timeout {
    let alive = true;
    conn.ws.on("pong", () => (alive = true));
    return setInterval(() => {
      if (conn.ws.readyState !== WebSocket.OPEN) return;
      if (!alive) return conn.ws.terminate();
      alive = false;
      conn.ws.ping();
    }, this.#opts.keepAliveMs ?? 10_000).unref();
  }

  async #onFrame(conn: Connection, text: string): Promise<void> {
    let frame: StreamFrame;
    try {
      frame = streamFrameSchema.parse(JSON.parse(text));
    } catch {
      this.#log.warn({ bytes: text.length }, "dingtalk stream: ignoring a malformed frame");
      return;
    }
    const { type, headers, data } = frame;
    if (type === "SYSTEM") return this.#onSystem(conn, frame);
    let result: StreamAck;
    try {
      result = await this.#opts.onMessage({
        topic: headers.topic,
        messageId: headers.messageId,
        data,
        headers: stringHeaders(headers),
      });
    } catch (error) {
      // No ACK: DingTalk redelivers, and the receiver dedupes on messageId / msgId.
      this.#fail(error);
      return;
    }
    const reply = ackData(type, result);
    if (reply)
      this.#send(conn, {
        code: 200,
        headers: { messageId: headers.messageId, contentType: "application/json" },
        message: "OK",
        data: JSON.stringify(reply),
      });
  }

  #onSystem(conn: Connection, frame: StreamFrame): void {
    if (frame.headers.topic === "ping") {
      // Echo as the official SDKs do: same headers (so the same messageId), same data.
      this.#send(conn, { code: 200, headers: frame.headers, message: "OK", data: frame.data });
    } else if (frame.headers.topic === "disconnect") {
      conn.rotating = true;
      closeSocket(conn.ws, "gateway asked to reconnect");
    } else {
      this.#log.debug({ topic: frame.headers.topic }, "dingtalk stream: system frame");
    }
  }

  /** An ACK for a closed socket is dropped: DingTalk redelivers, and receivers dedupe. */
  #send(conn: Connection, payload: object): void {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(payload));
  }

  #fail(error: unknown): void {
    if (this.#stopped) return;
    this.#log.warn({ err: error instanceof Error ? error.message : String(error) }, "dingtalk stream: error");
    // EventEmitter throws an "error" nobody listens to; the log line above is enough then.
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }
}

/** What an ACK carries, or undefined for no ACK at all. */
function ackData(type: "EVENT" | "CALLBACK", result: StreamAck): object | undefined {
  if (result === "no-ack") return undefined;
  if (typeof result === "object") return type === "CALLBACK" ? result : { status: "SUCCESS" };
  // A CALLBACK has no LATER; leaving it unacknowledged is what gets it redelivered.
  if (type === "CALLBACK") return result === "ack" ? { response: null } : undefined;
  return { status: result === "ack" ? "SUCCESS" : "LATER" };
}

function closeSocket(ws: WebSocket, reason: string): void {
  ws.close(1000, reason);
  // A peer that never answers the closing handshake must not hold up shutdown or the reconnect.
  setTimeout(() => ws.terminate(), 2_000).unref();
}

function stringHeaders(headers: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
}

/** The gateway wants our address for its logs; the first external IPv4 is what the SDKs send. */
function localIp(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}
