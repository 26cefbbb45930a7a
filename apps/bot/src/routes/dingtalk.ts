/**
 * DingTalk ingress over HTTP: `POST /dingtalk/robot` (app robot, HTTP mode) and
 * `POST /dingtalk/events` (event subscription, DingTalk crypto). Order per request: verify
 * (headers, before the body is read, for /robot) -> body size limit (413) -> JSON + zod (400)
 * -> ingest (one statement; 401 when the message names another robotCode than DINGTALK_APP_KEY,
 * the robot whose secret verified it) -> acknowledge. Nothing is stored for a rejected request, and
 * nothing is acknowledged that was not stored (503 when the database fails).
 */
import {
  DingTalkCrypto,
  DingTalkCryptoError,
  eventEnvelopeSchema,
  robotMessageSchema,
  verifyRobotSignature,
  type RobotMessage,
} from "@clawgate/dingtalk";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Env } from "../env.ts";
import { IngestUnavailableError, type Ingest, type IngressChannel } from "../ingress/ingest.ts";
import type { Metrics } from "../metrics.ts";

export const INGRESS_BODY_LIMIT = 64 * 1024;
const EVENT_WINDOW_MS = 60 * 60 * 1000;

export type DingTalkRouteEnv = Partial<
  Pick<Env, "DINGTALK_APP_KEY" | "DINGTALK_APP_SECRET" | "DINGTALK_TOKEN" | "DINGTALK_AES_KEY">
>;

export interface DingTalkRoutesOptions {
  env: DingTalkRouteEnv;
  ingest: Ingest;
  metrics: Metrics;
  now?: () => number;
}

const header = (request: FastifyRequest, name: string) => {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

function parseJson(body: unknown): { ok: true; value: unknown } | { ok: false } {
  if (!Buffer.isBuffer(body) || body.length === 0) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(body.toString("utf8")) };
  } catch {
    return { ok: false };
  }
}

function eventCrypto(env: DingTalkRouteEnv): DingTalkCrypto | string {
  const missing = (["DINGTALK_TOKEN", "DINGTALK_AES_KEY", "DINGTALK_APP_KEY"] as const).filter((k) => !env[k]);
  if (missing.length > 0) return `event subscription is not configured: set ${missing.join(", ")}`;
  try {
    return new DingTalkCrypto({
      token: env.DINGTALK_TOKEN!,
      aesKey: env.DINGTALK_AES_KEY!,
      ownerKey: env.DINGTALK_APP_KEY!,
    });
  } catch (error) {
    return `event subscription is misconfigured: DINGTALK_AES_KEY ${(error as Error).message}`;
  }
}

export async function dingtalkRoutes(
  app: FastifyInstance,
  { env, ingest, metrics, now = Date.now }: DingTalkRoutesOptions,
) {
  // Raw bytes for every content type: we parse (and reject) the JSON ourselves, so a malformed
  // or mislabelled body is a 400 of ours, and the size limit applies before anything is parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: INGRESS_BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );

  const count = (channel: IngressChannel, outcome: string) => metrics.ingress.inc({ channel, outcome });

  const reject = (reply: FastifyReply, channel: IngressChannel, status: number, outcome: string, error: string) => {
    count(channel, outcome);
    reply.log.info({ channel, outcome }, "ingress rejected");
    return reply.code(status).send({ error });
  };

  /**
   * Stores the message; answers (and returns false) when it was not stored: 401 when it names
   * another robot than the one whose secret verified it, 503 when the database failed.
   */
  const store = async (
    request: FastifyRequest,
    reply: FastifyReply,
    channel: IngressChannel,
    message: RobotMessage,
  ) => {
    try {
      const result = await ingest({ channel, message, traceId: request.id });
      if (result.status === "robot_mismatch") {
        await reject(reply, channel, 401, "robot_mismatch", "unauthorized: robot_mismatch");
        return false;
      }
      count(channel, result.status);
      // The request line (info) already carries the trace id that the job carries on.
      if (result.status === "stored") request.log.debug({ channel, inboundId: result.inboundId }, "inbound stored");
      else if (result.status === "dead_lettered") {
        metrics.deadLetters.inc({ source: "INGRESS" });
        request.log.warn(
          { channel, deadLetterId: result.deadLetterId },
          "inbound not storable: dead-lettered, acknowledged",
        );
      } else request.log.info({ channel }, "duplicate inbound acknowledged");
      return true;
    } catch (error) {
      if (!(error instanceof IngestUnavailableError)) throw error;
      count(channel, error.dbClass === "unavailable" ? "unavailable" : "db_error");
      request.log.warn(
        { channel, err: error.message },
        `inbound not stored: ${error.dbClass === "unavailable" ? "database unavailable" : "database error"}`,
      );
      await reply.code(503).header("retry-after", "1").send({ error: "database unavailable, retry later" });
      return false;
    }
  };

  app.post(
    "/dingtalk/robot",
    {
      bodyLimit: INGRESS_BODY_LIMIT,
      onRequest: async (request, reply) => {
        // The key names the robot the secret verifies: a message for another robot is refused.
        if (!env.DINGTALK_APP_SECRET || !env.DINGTALK_APP_KEY) {
          count("HTTP", "unconfigured");
          return reply
            .code(503)
            .send({ error: "HTTP-mode ingress is not configured: set DINGTALK_APP_KEY and DINGTALK_APP_SECRET" });
        }
        const check = verifyRobotSignature(
          { timestamp: header(request, "timestamp"), sign: header(request, "sign") },
          env.DINGTALK_APP_SECRET,
          now(),
        );
        if (!check.ok) return reject(reply, "HTTP", 401, check.reason, `unauthorized: ${check.reason}`);
      },
    },
    async (request, reply) => {
      const json = parseJson(request.body);
      if (!json.ok) return reject(reply, "HTTP", 400, "malformed_json", "malformed body: expected JSON");
      const parsed = robotMessageSchema.safeParse(json.value);
      if (!parsed.success) return reject(reply, "HTTP", 400, "invalid_message", "malformed body: not a robot message");
      if (!(await store(request, reply, "HTTP", parsed.data))) return reply;
      // DingTalk accepts a reply in the response body; ours goes out through the worker.
      return reply.send({ msgtype: "empty" });
    },
  );

  const crypto = eventCrypto(env);
  app.post("/dingtalk/events", { bodyLimit: INGRESS_BODY_LIMIT }, async (request, reply) => {
    if (typeof crypto === "string") {
      count("EVENT", "unconfigured");
      return reply.code(503).send({ error: crypto });
    }
    const query = request.query as Record<string, string | undefined>;
    const { msg_signature: signature, timestamp, nonce } = query;
    if (!signature || !timestamp || !nonce)
      return reject(reply, "EVENT", 401, "missing_params", "unauthorized: missing_params");
    const json = parseJson(request.body);
    const envelope = json.ok ? eventEnvelopeSchema.safeParse(json.value) : undefined;
    if (!envelope?.success)
      return reject(reply, "EVENT", 400, "malformed_envelope", "malformed body: expected {encrypt}");
    const { encrypt } = envelope.data;
    if (!crypto.verify(signature, timestamp, nonce, encrypt)) {
      return reject(reply, "EVENT", 401, "bad_signature", "unauthorized: bad_signature");
    }
    if (!/^\d{1,16}$/.test(timestamp) || Math.abs(now() - Number(timestamp)) > EVENT_WINDOW_MS) {
      return reject(reply, "EVENT", 401, "stale_timestamp", "unauthorized: stale_timestamp");
    }
    let event: Record<string, unknown>;
    try {
      const value: unknown = JSON.parse(crypto.decrypt(encrypt));
      if (typeof value !== "object" || value === null) throw new SyntaxError("not an object");
      event = value as Record<string, unknown>;
    } catch (error) {
      if (error instanceof DingTalkCryptoError)
        return reject(reply, "EVENT", 401, "bad_ciphertext", "unauthorized: cannot decrypt");
      return reject(reply, "EVENT", 400, "malformed_event", "malformed event: expected JSON");
    }

    const eventType = typeof event.EventType === "string" ? event.EventType : undefined;
    if (eventType === undefined && "msgtype" in event && "msgId" in event) {
      const parsed = robotMessageSchema.safeParse(event);
      if (!parsed.success)
        return reject(reply, "EVENT", 400, "invalid_message", "malformed event: not a robot message");
      if (!(await store(request, reply, "EVENT", parsed.data))) return reply;
    } else {
      // check_url and every event we do not handle yet: acknowledged, recorded in the log only.
      count("EVENT", eventType === "check_url" ? "check_url" : "event_ignored");
      request.log.info({ eventType: eventType ?? "(none)" }, "event acknowledged");
    }
    return reply.send(crypto.encryptedResponse("success"));
  });
}
