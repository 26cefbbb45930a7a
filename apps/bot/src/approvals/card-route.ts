/**
 * `POST /dingtalk/card`: HTTP-mode card callbacks. Order: signature (x-ddpaas-signature-timestamp,
 * x-ddpaas-signature = Base64(HMAC-SHA256(DINGTALK_CARD_CALLBACK_SECRET, timestamp)), 1-hour
 * window, constant time; 401 and nothing changed otherwise) before the body is read -> size
 * limit -> JSON -> the click (card-callback.ts) -> its answer as the response body.
 */
import { verifyCardSignature } from "@clawgate/dingtalk";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Metrics } from "../metrics.ts";
import type { CardCallbackHandler } from "./card-callback.ts";

const BODY_LIMIT = 64 * 1024;

export interface CardRouteOptions {
  secret: string | undefined;
  handle: CardCallbackHandler;
  metrics: Metrics;
  now?: () => number;
}

const header = (request: FastifyRequest, name: string) => {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export async function cardRoutes(app: FastifyInstance, { secret, handle, metrics, now = Date.now }: CardRouteOptions) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));
  const count = (outcome: string) => metrics.approvalCardClicks.inc({ outcome });

  app.post(
    "/dingtalk/card",
    {
      bodyLimit: BODY_LIMIT,
      onRequest: async (request, reply) => {
        if (!secret) {
          count("unconfigured");
          return reply
            .code(503)
            .send({ error: "HTTP card callbacks are not configured: set DINGTALK_CARD_CALLBACK_SECRET" });
        }
        const check = verifyCardSignature(
          {
            timestamp: header(request, "x-ddpaas-signature-timestamp"),
            signature: header(request, "x-ddpaas-signature"),
          },
          secret,
          now(),
        );
        if (!check.ok) {
          count(check.reason);
          request.log.info({ outcome: check.reason }, "card callback rejected");
          return reply.code(401).send({ error: `unauthorized: ${check.reason}` });
        }
      },
    },
    async (request, reply) => {
      let body: unknown;
      try {
        body = Buffer.isBuffer(request.body) ? JSON.parse(request.body.toString("utf8")) : undefined;
      } catch {
        body = undefined;
      }
      const result = await handle(body, request.id);
      if (!result.ok) return reply.code(400).send({ error: `malformed body: ${result.error}` });
      return reply.send(result.response);
    },
  );
}
