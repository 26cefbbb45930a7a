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

export type IngestResult =
  { status: "stored"; inboundId: string; robotCode: string } | { status: "duplicate"; robotCode: string };

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

/**
 * Each conversation's jobs run one at a time, in the order they were stored, in their own
 * graphile-worker queue (`conv:<conversationId>`): a group that floods the robot holds one
 * worker, and the other conversations' messages are taken by the rest (bench/fairness).
 */
export const conversationQueue = (conversationId: string) => `conv:${conversationId}`;

/**
 * One statement per batch: a multi-row insert (duplicates skipped, also within the batch) and,
 * for the rows that went in, one `add_jobs` call. Atomic: a row is never stored without its job.
 * `add_job` per message costs a NOTIFY each, and NOTIFY serialises commits; one per batch does not.
 * Run times step by a microsecond in batch order, so a conversation's queue keeps arrival order.
 */
const ingestSql = (queuePerConversation: boolean) => `
WITH input AS (
  SELECT * FROM json_to_recordset($1::json) AS x(
    "id" text, "robotCode" text, "msgId" text, "channel" text, "conversationId" text,
    "senderId" text, "msgType" text, "payload" jsonb, "traceId" text, "seq" int)
), ins AS (
  INSERT INTO "InboundMessage" ("id", "robotCode", "msgId", "channel", "conversationId", "senderId", "msgType", "payload", "traceId")
  SELECT "id", "robotCode", "msgId", "channel"::"IngressChannel", "conversationId", "senderId", "msgType", "payload", "traceId" FROM input
  ON CONFLICT ("robotCode", "msgId") DO NOTHING
  RETURNING "id", "traceId", "conversationId"
), ${
  queuePerConversation
    ? `q AS (
  -- The queue rows first, locked (an upsert): the queue GC (worker/queue-gc.ts) cannot delete a
  -- row that a job of this statement is about to reference.
  INSERT INTO graphile_worker._private_job_queues AS q ("queue_name")
  SELECT DISTINCT '${conversationQueue("")}' || "conversationId" FROM ins
  ON CONFLICT ("queue_name") DO UPDATE SET "queue_name" = EXCLUDED."queue_name"
  RETURNING q."queue_name"
)`
    : `q AS (SELECT NULL::text AS "queue_name")`
}, jobs AS (
  SELECT count(*) AS n FROM graphile_worker.add_jobs(ARRAY(
    SELECT ROW('${INBOUND_TASK}', json_build_object('inboundId', ins."id", 'traceId', ins."traceId"),
               q."queue_name", now() + input."seq" * interval '1 microsecond', NULL, NULL, NULL, NULL)::graphile_worker.job_spec
    FROM ins JOIN input USING ("id")
    ${queuePerConversation ? `JOIN q ON q."queue_name" = '${conversationQueue("")}' || ins."conversationId"` : "CROSS JOIN q"}
    ORDER BY input."seq"))
)
SELECT ins."id" AS "inboundId", (SELECT n FROM jobs) AS "jobs" FROM ins`;

export type Ingest = (input: IngestInput) => Promise<IngestResult>;

interface Row {
  id: string;
  robotCode: string;
  msgId: string;
  channel: IngressChannel;
  conversationId: string;
  senderId: string;
  msgType: string;
  payload: RobotMessage;
  traceId: string;
}

interface Pending {
  row: Row;
  resolve: (r: IngestResult) => void;
  reject: (e: unknown) => void;
  /** Answered already (its deadline passed): not written if still waiting, its outcome ignored. */
  expired?: boolean;
}

/** SQLSTATE classes that mean "the database is not there", as opposed to "this input is bad". */
const UNAVAILABLE = /^(08|53|57|58)/;

function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code !== "string" || UNAVAILABLE.test(code);
}

/**
 * Group commit: requests that arrive while `maxInFlight` batches are being written wait and go
 * together in the next statement. An idle ingress writes each request at once (no timer, no
 * added latency); under load, one commit acknowledges many messages. Each caller still resolves
 * only after the statement holding its row has committed.
 *
 * Each caller has a deadline (`deadlineMs` from its call): a stalled database (statements hang
 * until the client's query timeout, and later requests wait behind the batches in flight) must
 * still give DingTalk its 503 within a second, so it retries soon. A row whose caller gave up
 * may still commit: the retry is then a duplicate (200, no second job), never a loss.
 */
export function createIngest({
  pool,
  defaultRobotCode,
  maxBatch = 200,
  maxInFlight = 2,
  queuePerConversation = true,
  deadlineMs = 500,
}: {
  pool: pg.Pool;
  defaultRobotCode?: string;
  maxBatch?: number;
  maxInFlight?: number;
  /** false: one shared FIFO for every conversation (the fairness benchmark's baseline). */
  queuePerConversation?: boolean;
  deadlineMs?: number;
}): Ingest {
  const statement = {
    name: queuePerConversation ? "clawgate_ingest_batch" : "clawgate_ingest_batch_shared",
    text: ingestSql(queuePerConversation),
  };
  const queue: Pending[] = [];
  let inFlight = 0;

  async function write(batch: Pending[]): Promise<void> {
    const { rows } = await pool.query<{ inboundId: string }>({
      ...statement,
      values: [JSON.stringify(batch.map((p, seq) => ({ ...p.row, seq })))],
    });
    const stored = new Set(rows.map((r) => r.inboundId));
    for (const { row, resolve } of batch) {
      resolve(
        stored.has(row.id)
          ? { status: "stored", inboundId: row.id, robotCode: row.robotCode }
          : { status: "duplicate", robotCode: row.robotCode },
      );
    }
  }

  async function flush(): Promise<void> {
    if (inFlight >= maxInFlight || queue.length === 0) return;
    const batch = queue.splice(0, maxBatch).filter((p) => !p.expired);
    if (batch.length === 0) return void flush();
    inFlight++;
    try {
      await write(batch);
    } catch (error) {
      if (batch.length > 1 && !isUnavailable(error)) {
        // One bad row must not fail its neighbours: write each alone.
        await Promise.all(batch.map((p) => write([p]).catch((e: unknown) => p.reject(new IngestUnavailableError(e)))));
      } else {
        for (const p of batch) p.reject(new IngestUnavailableError(error));
      }
    } finally {
      inFlight--;
      void flush();
    }
  }

  return ({ channel, message, traceId }) => {
    const robotCode = message.robotCode || defaultRobotCode || "default";
    const row: Row = {
      id: randomUUID(),
      robotCode,
      msgId: message.msgId,
      channel,
      conversationId: message.conversationId,
      senderId: message.senderStaffId || message.senderId,
      msgType: message.msgtype,
      payload: message,
      traceId,
    };
    return new Promise<IngestResult>((resolve, reject) => {
      const pending: Pending = {
        row,
        resolve: (r) => {
          clearTimeout(timer);
          if (!pending.expired) resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          if (!pending.expired) reject(e);
        },
      };
      const timer = setTimeout(() => {
        pending.expired = true;
        reject(new IngestUnavailableError(new Error(`not stored within ${deadlineMs} ms`)));
      }, deadlineMs);
      queue.push(pending);
      void flush();
    });
  };
}
