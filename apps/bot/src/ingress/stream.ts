/**
 * Stream mode: the runtime opens the WebSocket to DingTalk's gateway itself. Each robot
 * CALLBACK goes through the same ingest() as HTTP; it is ACKed only once stored (a duplicate
 * is ACKed too). When the database fails it is not ACKed, so DingTalk redelivers it. A message
 * naming another robot than ours (DINGTALK_APP_KEY) is not stored, logged, and ACKed (a
 * redelivery would be refused the same way).
 */
import type { CardCallbackHandler } from "../approvals/card-callback.ts";
import {
  CARD_TOPIC,
  DingTalkStreamClient,
  ROBOT_TOPIC,
  robotMessageSchema,
  type StreamAck,
  type StreamMessage,
} from "@clawgate/dingtalk";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { newTraceId } from "../trace.ts";
import { IngestUnavailableError, type Ingest } from "./ingest.ts";

export interface StreamIngress {
  connected(): boolean;
  stop(): Promise<void>;
}

export function streamHandler({
  ingest,
  logger,
  metrics,
  cardCallback,
}: {
  ingest: Ingest;
  logger: Logger;
  metrics: Metrics;
  /** Approval card clicks (topic /v1.0/card/instances/callback), answered with the card update. */
  cardCallback?: CardCallbackHandler;
}) {
  const count = (outcome: string) => metrics.ingress.inc({ channel: "STREAM", outcome });
  return async ({ topic, data }: StreamMessage): Promise<StreamAck> => {
    const traceId = newTraceId();
    const log = logger.child({ traceId, channel: "STREAM" });
    if (topic === CARD_TOPIC && cardCallback) {
      let body: unknown;
      try {
        body = JSON.parse(data);
      } catch {
        body = undefined;
      }
      // A database error throws: no ACK, DingTalk redelivers, and the vote's unique key dedupes.
      const result = await cardCallback(body, traceId);
      if (!result.ok) log.warn("stream card callback is not a card action; acknowledged and dropped");
      return result.ok ? { response: result.response } : "ack";
    }
    if (topic !== ROBOT_TOPIC) {
      count("event_ignored");
      log.info({ topic }, "stream message on another topic acknowledged");
      return "ack";
    }
    let body: unknown;
    try {
      body = JSON.parse(data);
    } catch {
      body = undefined;
    }
    const parsed = robotMessageSchema.safeParse(body);
    if (!parsed.success) {
      // Redelivery would bring the same bytes back: acknowledge and record it.
      count("invalid_message");
      log.warn("stream message is not a robot message; acknowledged and dropped");
      return "ack";
    }
    try {
      const result = await ingest({ channel: "STREAM", message: parsed.data, traceId });
      count(result.status);
      if (result.status === "robot_mismatch") {
        // Our own authenticated connection delivered another robot's message: never stored.
        // Acknowledged like a malformed frame, since redelivery would bring the same refusal back.
        log.warn("stream message names another robotCode than DINGTALK_APP_KEY; acknowledged and dropped");
        return "ack";
      }
      if (result.status === "stored") log.info({ inboundId: result.inboundId }, "inbound stored");
      else if (result.status === "dead_lettered") {
        metrics.deadLetters.inc({ source: "INGRESS" });
        log.warn({ deadLetterId: result.deadLetterId }, "inbound not storable: dead-lettered, acknowledged");
      } else log.info("duplicate inbound acknowledged");
      return "ack";
    } catch (error) {
      if (!(error instanceof IngestUnavailableError)) throw error;
      count(error.dbClass === "unavailable" ? "unavailable" : "db_error");
      log.warn({ err: error.message }, "inbound not stored: database error; not acknowledged");
      return "no-ack";
    }
  };
}

export function startStreamIngress(opts: {
  clientId: string;
  clientSecret: string;
  apiBase: string;
  ingest: Ingest;
  logger: Logger;
  metrics: Metrics;
  cardCallback?: CardCallbackHandler;
}): StreamIngress {
  const logger = opts.logger.child({ component: "stream" });
  let connected = false;
  const client = new DingTalkStreamClient({
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    apiBase: opts.apiBase,
    onMessage: streamHandler({
      ingest: opts.ingest,
      logger,
      metrics: opts.metrics,
      ...(opts.cardCallback ? { cardCallback: opts.cardCallback } : {}),
    }),
    logger,
  });
  client.on("connected", () => {
    connected = true;
    logger.info("stream connected");
  });
  client.on("disconnected", () => {
    connected = false;
    logger.info("stream disconnected; reconnecting");
  });
  client.on("error", (error: unknown) => logger.warn({ err: String(error) }, "stream error"));
  client.start().catch((error: unknown) => logger.error({ err: String(error) }, "stream client did not start"));
  return { connected: () => connected, stop: () => client.stop() };
}
