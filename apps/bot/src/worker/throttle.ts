/**
 * Outbound rate limits shared by every replica (rate-limiter-flexible on PostgreSQL): per robot
 * (DingTalk's org-wide 20 QPS) and per conversation (a robot may post about 20 messages a
 * minute in one chat before DingTalk throttles it for minutes); env OUTBOUND_ROBOT_PER_SECOND
 * and OUTBOUND_CONVERSATION_PER_MINUTE. A limited send is put back on the queue for when the
 * window has room, never dropped. A conversation's point is given back when the robot's limit
 * refuses the send: under a backlog, refusals must not use up the conversations' quotas.
 */
import { RateLimiterPostgres, RateLimiterRes } from "rate-limiter-flexible";
import type pg from "pg";

export const RATE_LIMIT_SCHEMA = "clawgate_runtime";
export const RATE_LIMIT_TABLE = "rate_limits";

export interface ThrottleLimits {
  robot: { points: number; durationSec: number };
  conversation: { points: number; durationSec: number };
}

export const DEFAULT_LIMITS: ThrottleLimits = throttleLimits({
  OUTBOUND_ROBOT_PER_SECOND: 20,
  OUTBOUND_CONVERSATION_PER_MINUTE: 20,
});

export function throttleLimits(env: {
  OUTBOUND_ROBOT_PER_SECOND: number;
  OUTBOUND_CONVERSATION_PER_MINUTE: number;
}): ThrottleLimits {
  return {
    robot: { points: env.OUTBOUND_ROBOT_PER_SECOND, durationSec: 1 },
    conversation: { points: env.OUTBOUND_CONVERSATION_PER_MINUTE, durationSec: 60 },
  };
}

export type ThrottleDecision = { ok: true } | { ok: false; retryInMs: number; scope: "robot" | "conversation" };

export interface Throttle {
  take(robotCode: string, conversationId: string): Promise<ThrottleDecision>;
}

/** Our own schema, so `prisma migrate dev` (which owns `public`) never sees the table as drift. */
export const RATE_LIMIT_DDL = `
CREATE SCHEMA IF NOT EXISTS ${RATE_LIMIT_SCHEMA};
CREATE TABLE IF NOT EXISTS ${RATE_LIMIT_SCHEMA}.${RATE_LIMIT_TABLE} (
  key varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);`;

/** A limiter on the shared table: `points` per key per `durationSec`, counted for every replica. */
export function sharedLimiter(
  pool: pg.Pool,
  keyPrefix: string,
  { points, durationSec }: { points: number; durationSec: number },
): RateLimiterPostgres {
  return new RateLimiterPostgres({
    storeClient: pool,
    storeType: "pool",
    schemaName: RATE_LIMIT_SCHEMA,
    tableName: RATE_LIMIT_TABLE,
    tableCreated: true,
    // Expired rows are deleted by the cleanup job; the library's own timer would hold the process.
    clearExpiredByTimeout: false,
    keyPrefix,
    points,
    duration: durationSec,
  });
}

export function createThrottle(pool: pg.Pool, limits: ThrottleLimits = DEFAULT_LIMITS): Throttle {
  const robot = sharedLimiter(pool, "robot", limits.robot);
  const conversation = sharedLimiter(pool, "conv", limits.conversation);

  const consume = async (rl: RateLimiterPostgres, key: string): Promise<number | undefined> => {
    try {
      await rl.consume(key);
      return undefined;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return Math.max(rejection.msBeforeNext, 50);
      throw rejection; // the store failed: the job retries
    }
  };

  return {
    async take(robotCode, conversationId) {
      const conv = await consume(conversation, `${robotCode}:${conversationId}`);
      if (conv !== undefined) return { ok: false, retryInMs: conv, scope: "conversation" };
      const rob = await consume(robot, robotCode);
      if (rob !== undefined) {
        await conversation.reward(`${robotCode}:${conversationId}`, 1);
        return { ok: false, retryInMs: rob, scope: "robot" };
      }
      return { ok: true };
    },
  };
}
