/**
 * The one ingest path for HTTP callbacks, event callbacks and Stream frames: a single SQL
 * statement that inserts the inbound message keyed on (robotCode, msgId) and, only when the
 * insert happened, enqueues its graphile-worker job. One round trip, atomic: a duplicate (on
 * any replica, while its row is within the retention) inserts nothing and enqueues nothing.
 *
 * Text PostgreSQL cannot hold is made storable by the pool (packages/db: NUL removed, lone
 * surrogates replaced); how many code units that changed is kept in `alteredChars`. Database
 * errors are classified (`classifyDbError`): a connection-class failure (or any error that is not
 * the message's) throws `IngestUnavailableError` and the caller must not acknowledge; a data
 * error that remains is the message's fault: it is dead-lettered (`DeadLetter`, reason and
 * metadata) and acknowledged, so DingTalk does not redeliver it forever.
 */
import { randomUUID } from "node:crypto";
import { INBOUND_TASK } from "@clawgate/core/dead-letters.ts";
import { maskPersonalData } from "@clawgate/db/personal-data";
import {
  classifyDbError,
  countUnstorable,
  sealJson,
  sqlState,
  storable,
  type DbErrorClass,
  type KeyRing,
} from "@clawgate/db";
import type { RobotMessage } from "@clawgate/dingtalk";
import type pg from "pg";

export type IngressChannel = "HTTP" | "EVENT" | "STREAM";

export interface IngestInput {
  channel: IngressChannel;
  message: RobotMessage;
  traceId: string;
}

export type IngestResult =
  | { status: "stored"; inboundId: string; robotCode: string }
  | { status: "duplicate"; robotCode: string }
  /** The message names another robot than the app whose secret verified it: nothing stored. */
  | { status: "robot_mismatch" }
  /** Could not be stored even made storable (a data error): recorded for operators, acknowledged. */
  | { status: "dead_lettered"; deadLetterId: string; robotCode: string };

/** Not stored, for a reason that is not the message's: do not acknowledge (DingTalk redelivers). */
export class IngestUnavailableError extends Error {
  /** `unavailable`: the database is not there; `other`: it answered with an error (a bug, a deadlock). */
  readonly dbClass: DbErrorClass;
  constructor(cause: unknown) {
    const dbClass = classifyDbError(cause);
    super(
      `${dbClass === "unavailable" ? "database unavailable" : `database error ${sqlState(cause) ?? ""}`.trim()}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = "IngestUnavailableError";
    this.dbClass = dbClass;
  }
}

// The job's name lives with the dead letters' retry, which enqueues it too.
export { INBOUND_TASK };

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
    "senderId" text, "msgType" text, "payload" jsonb, "traceId" text, "alteredChars" int, "seq" int)
), ins AS (
  INSERT INTO "InboundMessage" ("id", "robotCode", "msgId", "channel", "conversationId", "senderId", "msgType", "payload", "traceId", "alteredChars")
  SELECT "id", "robotCode", "msgId", "channel"::"IngressChannel", "conversationId", "senderId", "msgType", "payload", "traceId", "alteredChars" FROM input
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
  /** The message made storable, sealed under the data key ring (in clear without one). */
  payload: unknown;
  traceId: string;
  alteredChars: number;
}

interface Pending {
  row: Row;
  resolve: (r: IngestResult) => void;
  reject: (e: unknown) => void;
  /** Answered already (its deadline passed): not written if still waiting, its outcome ignored. */
  expired?: boolean;
}

/** The metadata of a message that cannot be stored, its payload as far as it can be (below). */
const DEAD_LETTER_SQL = `INSERT INTO "DeadLetter"
  ("id", "source", "reason", "errorCode", "traceId", "robotCode", "msgId", "conversationId", "channel", "payload")
  VALUES ($1, 'INGRESS', $2, $3, $4, $5, $6, $7, $8, $9::jsonb)`;

async function deadLetter(pool: pg.Pool, row: Row, error: unknown): Promise<string> {
  const id = randomUUID();
  const reason = maskPersonalData(`not storable: ${error instanceof Error ? error.message : String(error)}`).slice(
    0,
    500,
  );
  const values = (payload: string | null) => [
    id,
    reason,
    sqlState(error) ?? null,
    row.traceId,
    row.robotCode.slice(0, 256),
    row.msgId.slice(0, 256),
    row.conversationId.slice(0, 256),
    row.channel,
    payload,
  ];
  try {
    await pool.query(DEAD_LETTER_SQL, values(JSON.stringify(row.payload)));
  } catch (e) {
    // The payload itself may be what PostgreSQL refuses: the metadata alone still tells operators.
    if (classifyDbError(e) !== "data") throw e;
    await pool.query(DEAD_LETTER_SQL, values(null));
  }
  return id;
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
  robotCode: ownRobotCode,
  maxBatch = 200,
  maxInFlight = 2,
  queuePerConversation = true,
  deadlineMs = 500,
  keys = null,
}: {
  pool: pg.Pool;
  /** The data key ring (CLAWGATE_DATA_KEYS): the payload is stored encrypted. null: in clear. */
  keys?: KeyRing | null;
  /**
   * This runtime's robot (DINGTALK_APP_KEY: an app robot's robotCode is its AppKey), the one whose
   * secret verified the message. A message naming another robotCode is refused; one naming none
   * is this robot's. Without it every message is refused.
   */
  robotCode: string | undefined;
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

  /** A row written alone failed: the message's fault (dead letter, acknowledged) or not (503). */
  async function settleFailed(p: Pending, error: unknown): Promise<void> {
    if (classifyDbError(error) !== "data") return p.reject(new IngestUnavailableError(error));
    try {
      p.resolve({
        status: "dead_lettered",
        deadLetterId: await deadLetter(pool, p.row, error),
        robotCode: p.row.robotCode,
      });
    } catch (e) {
      p.reject(new IngestUnavailableError(e));
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
      const dbClass = classifyDbError(error);
      if (dbClass === "unavailable") for (const p of batch) p.reject(new IngestUnavailableError(error));
      else if (batch.length > 1) {
        // One bad row must not fail its neighbours: write each alone.
        await Promise.all(batch.map((p) => write([p]).catch((e: unknown) => settleFailed(p, e))));
      } else await settleFailed(batch[0]!, error);
    } finally {
      inFlight--;
      void flush();
    }
  }

  return ({ channel, message, traceId }) => {
    if (!ownRobotCode || (message.robotCode && message.robotCode !== ownRobotCode)) {
      return Promise.resolve({ status: "robot_mismatch" });
    }
    const robotCode = ownRobotCode;
    const row: Row = {
      id: randomUUID(),
      robotCode,
      msgId: message.msgId,
      channel,
      conversationId: message.conversationId,
      senderId: message.senderStaffId || message.senderId,
      msgType: message.msgtype,
      // Made storable before it is sealed: what decrypts is what the worker would have read.
      payload: sealJson(keys, storable(message)),
      traceId,
      // The pool makes the text storable; the row keeps how much that changed.
      alteredChars: countUnstorable(message),
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
