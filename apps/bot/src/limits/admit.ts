/**
 * The shared limits between the policy gate and the agent turn: requests per minute (user, then
 * conversation), then the token budget reservation. After the turn the reservation is settled
 * with the tokens the model reported (none reported: nothing charged).
 *
 * Refusals say why and what to do; the one exception is abuse throttling: after the one
 * "too fast" reply of a window, further messages are dropped without a reply (recorded DENIED).
 * Every budget refusal is also an audit entry (`budget.exhausted`, metadata only).
 */
import { appendAudit } from "@clawgate/core";
import {
  loadBudgets,
  release,
  reserve,
  settle,
  type Reservation,
  type ReserveResult,
} from "@clawgate/core/limits/budget.ts";
import type { Db } from "@clawgate/db";
import type pg from "pg";
import type { TokenUsage } from "../agent/index.ts";
import { RUNTIME_ACTOR } from "../runtime-actor.ts";
import { createRateLimits, type RateLimitDefaults } from "./rate-limits.ts";

export type Admission =
  | { kind: "admitted"; reservation: Reservation }
  /** Answer with `text`, record DENIED with `reason`. */
  | { kind: "refused"; reason: string; metric: "budget" | "rate_limited"; text: string }
  /** Record DENIED with `reason`, send nothing. */
  | { kind: "dropped"; reason: string; metric: "rate_dropped" };

export interface AdmitRequest {
  conversationId: string;
  userId: string;
  /** What the model will read (for the token estimate). */
  text: string;
  traceId: string;
  configRevision: number;
  /** False for a retried job: the message was already counted against the rate limits. */
  countRequest: boolean;
}

export interface Limits {
  admit(req: AdmitRequest): Promise<Admission>;
  /** Charges what the model reported and frees the rest; no usage (the turn threw): charges nothing. */
  settle(reservation: Reservation, usage: TokenUsage | undefined): Promise<void>;
}

export interface LimitsOptions {
  db: Db;
  pool: pg.Pool;
  now?: () => number;
  rateDefaults?: RateLimitDefaults;
  /** Tokens reserved for a turn before the model reports (see `estimateTurnTokens`). */
  estimate?: (text: string) => number;
}

/**
 * A turn's reservation: the system prompt, tool definitions and answer (about 2,000 tokens) plus
 * one token per character of the message (an upper bound for CJK text, generous for English).
 * Only a reservation: the turn is charged what the model reports.
 */
export const estimateTurnTokens = (text: string) => 2_000 + text.length;

const WHOSE = { GLOBAL: "The organisation's", CONVERSATION: "This conversation's", USER: "Your" } as const;
const PERIOD = { DAY: "daily", MONTH: "monthly" } as const;

function until(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

/** The reply to an exhausted budget: which one, when it resets, and who can raise it. */
export function budgetExhaustedReply(refusal: Extract<ReserveResult, { ok: false }>, now: number): string {
  const reset = refusal.resetsAt.toISOString().slice(0, 16).replace("T", " ");
  return (
    `${WHOSE[refusal.scope]} ${PERIOD[refusal.window]} token budget (${refusal.limit.toLocaleString("en-US")} tokens) is used up. ` +
    `It resets at ${reset} UTC (in ${until(refusal.resetsAt.getTime() - now)}); an admin can raise it in the Clawgate console (Budgets).`
  );
}

export function tooFastReply(scope: "user" | "conversation", retryInMs: number): string {
  const seconds = Math.max(1, Math.ceil(retryInMs / 1_000));
  return scope === "user"
    ? `You are sending messages too fast; try again in ${seconds} s.`
    : `This conversation is sending messages too fast; try again in ${seconds} s.`;
}

export function createLimits(opts: LimitsOptions): Limits {
  const { db } = opts;
  const now = opts.now ?? Date.now;
  const estimate = opts.estimate ?? estimateTurnTokens;
  const rates = createRateLimits(opts.pool, opts.rateDefaults);

  return {
    async admit(input) {
      // A sender without any id (DingTalk always sends one; a malformed message may not) is
      // limited as one "unknown" user rather than not at all.
      const req = { ...input, userId: input.userId || "unknown" };
      const budgets = await loadBudgets(db, req);
      if (req.countRequest) {
        const rate = await rates.take({ conversationId: req.conversationId, userId: req.userId, budgets });
        if (!rate.ok) {
          const reason = `rate_limited.${rate.scope}`;
          return rate.first
            ? { kind: "refused", reason, metric: "rate_limited", text: tooFastReply(rate.scope, rate.retryInMs) }
            : { kind: "dropped", reason, metric: "rate_dropped" };
        }
      }
      const at = now();
      const result = await reserve(db, {
        conversationId: req.conversationId,
        userId: req.userId,
        estimate: estimate(req.text),
        now: new Date(at),
        budgets,
      });
      if (result.ok) return { kind: "admitted", reservation: result.reservation };
      const { scope, subject, source, window, limit, used, resetsAt } = result;
      await db.$transaction((tx) =>
        appendAudit(tx, {
          actor: RUNTIME_ACTOR,
          action: "budget.exhausted",
          targetType: "budget",
          targetId: scope === "GLOBAL" ? "GLOBAL" : `${scope}:${subject}`,
          diff: { scope, source, window, limit, used, resetsAt: resetsAt.toISOString() },
          traceId: req.traceId,
          configRevision: req.configRevision,
        }),
      );
      return {
        kind: "refused",
        reason: `budget.exhausted.${scope.toLowerCase()}.${window.toLowerCase()}`,
        metric: "budget",
        text: budgetExhaustedReply(result, at),
      };
    },

    async settle(reservation, usage) {
      if (!usage) return release(db, reservation);
      return settle(db, reservation, usage.promptTokens + usage.completionTokens);
    },
  };
}
