/**
 * Requests per minute per user and per conversation, shared by every replica: rate-limiter-flexible
 * on PostgreSQL, in the table the outbound throttle uses (`clawgate_runtime.rate_limits`, expired
 * rows deleted by the cleanup job), under prefixes of their own. The limit is the subject's own
 * `TokenBudget.requestsPerMinute`, else the DEFAULT row's, else the built-in default.
 *
 * Over the limit, every message still counts (rate-limiter-flexible adds the point before it
 * refuses), so the first refusal in a window is recognisable (`first`: points + 1 consumed): that
 * one gets a reply, the rest of the window is dropped without one (abuse throttling).
 */
import type { ApplicableBudgets } from "@clawgate/core/limits/budget.ts";
import type pg from "pg";
import { RateLimiterRes, type RateLimiterPostgres } from "rate-limiter-flexible";
import { sharedLimiter } from "../worker/throttle.ts";

export interface RateLimitDefaults {
  userPerMinute: number;
  conversationPerMinute: number;
}

/** When no TokenBudget row says otherwise: a person types slower than this; a group has several. */
export const DEFAULT_RATE_LIMITS: RateLimitDefaults = { userPerMinute: 20, conversationPerMinute: 60 };

export type RateDecision =
  { ok: true } | { ok: false; scope: "user" | "conversation"; retryInMs: number; first: boolean };

export interface RateLimits {
  take(input: { conversationId: string; userId: string; budgets: ApplicableBudgets }): Promise<RateDecision>;
}

const WINDOW_SEC = 60;

export function createRateLimits(pool: pg.Pool, defaults: RateLimitDefaults = DEFAULT_RATE_LIMITS): RateLimits {
  // One limiter per (prefix, points): the stored count is per key, so a changed limit applies at once.
  const limiters = new Map<string, RateLimiterPostgres>();
  const limiter = (keyPrefix: string, points: number) => {
    const id = `${keyPrefix}:${points}`;
    let rl = limiters.get(id);
    if (!rl) {
      rl = sharedLimiter(pool, keyPrefix, { points, durationSec: WINDOW_SEC });
      limiters.set(id, rl);
    }
    return rl;
  };

  /** undefined: allowed; else the refusal. A store failure throws (the job retries). */
  const consume = async (
    scope: "user" | "conversation",
    points: number,
    key: string,
  ): Promise<RateDecision | undefined> => {
    try {
      await limiter(scope === "user" ? "rpm-user" : "rpm-conv", points).consume(key);
      return undefined;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      return {
        ok: false,
        scope,
        retryInMs: Math.max(rejection.msBeforeNext, 1_000),
        first: rejection.consumedPoints === points + 1,
      };
    }
  };

  const pointsOf = (value: number | null, fallback: number) => Math.max(0, value ?? fallback);

  return {
    async take({ conversationId, userId, budgets }) {
      // The user first: one person flooding a group does not use up the group's quota.
      const user = await consume("user", pointsOf(budgets.user.requestsPerMinute, defaults.userPerMinute), userId);
      if (user) return user;
      return (
        (await consume(
          "conversation",
          pointsOf(budgets.conversation.requestsPerMinute, defaults.conversationPerMinute),
          conversationId,
        )) ?? { ok: true }
      );
    },
  };
}
