/**
 * What every job of the worker is built with, once, by the queue (queue.ts): the inbound job
 * (handle-inbound.ts) and the approval executor (approvals/execute.ts) take these and add their own.
 */
import type { Db } from "@clawgate/db";
import type pg from "pg";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { PolicyView } from "../policy/runtime.ts";
import type { Senders } from "./reply.ts";
import type { Throttle } from "./throttle.ts";

export interface WorkerDeps {
  db: Db;
  /** The worker's pool: replies, their throttle and the per-turn statements go through it. */
  pool: pg.Pool;
  throttle: Throttle;
  senders: Senders;
  /** Hosts a session webhook may be at (DINGTALK_WEBHOOK_HOSTS). */
  webhookHosts: readonly string[];
  logger: Logger;
  metrics: Metrics;
  /** The in-memory policy every job decides on. */
  policy: PolicyView;
  now?: () => number;
}
