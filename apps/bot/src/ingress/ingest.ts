/**
 * The one ingest path for HTTP callbacks, event callbacks and Stream frames: a single SQL
 * statement that inserts the inbound message keyed on (robotCode, msgId) and, only when the
 * insert happened, enqueues its graphile-worker job. One round trip, atomic: a duplicate (on
 * any replica, while its row is within the retention) inserts nothing and enqueues nothing.
 * Any database failure throws `IngestUnavailableError`: the caller must not acknowledge.
 */
import { randomUUID } from "node:crypto";
import type { RobotMessage } from "@clawgate/dingtalk";
import type pg from "pg";

export type IngressChannel = "HTTP" | "EVENT" | "STREAM";

export interface IngestInput {
  channel: IngressChannel;
  message: RobotMessage;
  traceId: string;
}

export type IngestResult = { status: "stored"; inboundId: string; robotCode: string } | { status: "duplicate"; robotCode: string };

export class IngestUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`database unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "IngestUnavailableError";
  }
}

export const INBOUND_TASK = "inbound.handle";

export interface InboundJobPayload {
  inboundId: string;
  traceId: string;
  /** How many times the job was put back because of throttling. */
  deferrals?: number;
}

const INGEST_SQL = `
WITH ins AS (
  INSERT INTO "InboundMessage" ("id", "robotCode", "msgId", "channel", "conversationId", "senderId", "msgType", "payload", "traceId")
  VALUES ($1, $2, $3, $4::"IngressChannel", $5, $6, $7, $8::jsonb, $9)
  ON CONFLICT ("robotCode", "msgId") DO NOTHING
  RETURNING "id", "traceId"
)
SELECT (graphile_worker.add_job('${INBOUND_TASK}', json_build_object('inboundId', ins."id", 'traceId', ins."traceId"))).id AS "jobId"
FROM ins`;

export type Ingest = (input: IngestInput) => Promise<IngestResult>;

export function createIngest({ pool, defaultRobotCode }: { pool: pg.Pool; defaultRobotCode?: string }): Ingest {
  return async ({ channel, message, traceId }) => {
    const robotCode = message.robotCode || defaultRobotCode || "default";
    const inboundId = randomUUID();
    let rowCount: number | null;
    try {
      ({ rowCount } = await pool.query({
        name: "clawgate_ingest",
        text: INGEST_SQL,
        values: [
          inboundId,
          robotCode,
          message.msgId,
          channel,
          message.conversationId,
          message.senderStaffId || message.senderId,
          message.msgtype,
          JSON.stringify(message),
          traceId,
        ],
      }));
    } catch (error) {
      throw new IngestUnavailableError(error);
    }
    return rowCount === 1 ? { status: "stored", inboundId, robotCode } : { status: "duplicate", robotCode };
  };
}
