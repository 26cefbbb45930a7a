/**
 * Token budgets, shared by every replica through `UsageCounter` rows in PostgreSQL.
 *
 * Which limits apply to a request of user U in conversation C:
 * - GLOBAL: the `TokenBudget` row (GLOBAL, "") if there is one: the whole organisation.
 * - the conversation: the row (CONVERSATION, C), else the DEFAULT row, counted for C alone.
 * - the user: the row (USER, U), else the DEFAULT row, counted for U alone.
 * Each applies per DAY and per MONTH window (UTC), `dailyTokens` / `monthlyTokens`; null means
 * unlimited. Counters are kept for all six (scope, window) pairs even when unlimited, so the
 * console can show usage, and a limit set later counts what was already used.
 *
 * Reserve -> call the model -> settle (or release). The reservation rule: a request is admitted
 * while every limited window has at least one token left (used + reserved < limit); it reserves
 * min(estimate, the smallest amount left). So the last bit of a budget is usable, concurrent
 * requests never reserve more than is left between them, and the only overshoot is a call whose
 * actual tokens exceed what it reserved (settle charges the actual count).
 *
 * Atomicity: reserve is one transaction that upserts and row-locks the six counters in one fixed
 * order (scope, then window: the same order settle locks them in, so the two never deadlock),
 * checks, and adds the reservation. A replica that dies between reserve and settle leaves its
 * reservation on the counters until their window ends (at most its estimate).
 */
import { randomUUID } from "node:crypto";
import { Prisma, type Db } from "@clawgate/db";
import { DomainError } from "../errors.ts";

export type BudgetWindow = "DAY" | "MONTH";
/** The scopes usage is counted under (DEFAULT is a limit, counted per conversation and user). */
export type CounterScope = "GLOBAL" | "CONVERSATION" | "USER";

export interface BudgetLimits {
  /** Which row the limits came from: the subject's own, DEFAULT, or none (unlimited). */
  source: "GLOBAL" | "CONVERSATION" | "USER" | "DEFAULT" | "NONE";
  dailyTokens: number | null;
  monthlyTokens: number | null;
  requestsPerMinute: number | null;
}

/** The limits that apply to one request (see the module comment). */
export interface ApplicableBudgets {
  global: BudgetLimits;
  conversation: BudgetLimits;
  user: BudgetLimits;
}

export interface Reservation {
  /** The six counters charged, in lock order. */
  counterIds: readonly string[];
  /** Tokens reserved on each of them. */
  tokens: number;
}

export type ReserveResult =
  | { ok: true; reservation: Reservation }
  | {
      ok: false;
      scope: CounterScope;
      /** The conversation or user id ("" for GLOBAL). */
      subject: string;
      /** Where the limit came from (DEFAULT when the subject has no row of its own). */
      source: BudgetLimits["source"];
      window: BudgetWindow;
      limit: number;
      /** Used plus reserved (in flight) in the window. */
      used: number;
      resetsAt: Date;
    };

const NONE: BudgetLimits = Object.freeze({
  source: "NONE",
  dailyTokens: null,
  monthlyTokens: null,
  requestsPerMinute: null,
});
const SCOPE_ORDER: readonly CounterScope[] = ["GLOBAL", "CONVERSATION", "USER"];
const WINDOWS: readonly BudgetWindow[] = ["DAY", "MONTH"];

/** The start of `now`'s window (UTC), as stored in `UsageCounter.windowStart`. */
export function windowStart(window: BudgetWindow, now: Date): Date {
  return window === "DAY"
    ? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()))
    : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/** When `now`'s window ends and the counter starts again from zero. */
export function windowReset(window: BudgetWindow, now: Date): Date {
  return window === "DAY"
    ? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1))
    : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

// A 'YYYY-MM-DD' literal: a timestamp cast to date would follow the session's time zone.
const isoDate = (d: Date) => d.toISOString().slice(0, 10);

const limitOf = (limits: BudgetLimits, window: BudgetWindow) =>
  window === "DAY" ? limits.dailyTokens : limits.monthlyTokens;

function requireId(value: unknown, what: string): string {
  if (typeof value !== "string" || value.trim() === "" || value.length > 256) {
    throw new DomainError("BAD_REQUEST", `${what} must be a non-empty string of at most 256 characters`);
  }
  return value;
}

function requireTokens(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new DomainError("BAD_REQUEST", `${what} must be a non-negative integer number of tokens`);
  }
  return value;
}

function requireDate(value: unknown): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    throw new DomainError("BAD_REQUEST", "now must be a valid Date");
  return value;
}

type BudgetRow = {
  scope: string;
  subject: string;
  dailyTokens: number | null;
  monthlyTokens: number | null;
  requestsPerMinute: number | null;
};

const asLimits = (row: BudgetRow | undefined, source: BudgetLimits["source"]): BudgetLimits | undefined =>
  row && {
    source,
    dailyTokens: row.dailyTokens,
    monthlyTokens: row.monthlyTokens,
    requestsPerMinute: row.requestsPerMinute,
  };

/** The GLOBAL, conversation and user limits for one request: one read of `TokenBudget`. */
export async function loadBudgets(
  db: Pick<Db, "tokenBudget">,
  input: { conversationId: string; userId: string },
): Promise<ApplicableBudgets> {
  const conversationId = requireId(input.conversationId, "conversationId");
  const userId = requireId(input.userId, "userId");
  const rows: BudgetRow[] = await db.tokenBudget.findMany({
    where: {
      OR: [
        { scope: "GLOBAL", subject: "" },
        { scope: "DEFAULT", subject: "" },
        { scope: "CONVERSATION", subject: conversationId },
        { scope: "USER", subject: userId },
      ],
    },
    select: { scope: true, subject: true, dailyTokens: true, monthlyTokens: true, requestsPerMinute: true },
  });
  const find = (scope: string) => rows.find((r) => r.scope === scope);
  const fallback = asLimits(find("DEFAULT"), "DEFAULT") ?? NONE;
  return {
    global: asLimits(find("GLOBAL"), "GLOBAL") ?? NONE,
    conversation: asLimits(find("CONVERSATION"), "CONVERSATION") ?? fallback,
    user: asLimits(find("USER"), "USER") ?? fallback,
  };
}

interface CounterKey {
  scope: CounterScope;
  subject: string;
  window: BudgetWindow;
  windowStart: Date;
  limit: number | null;
  source: BudgetLimits["source"];
}

type CounterRow = { id: string; scope: CounterScope; window: BudgetWindow; tokensUsed: bigint; tokensReserved: bigint };

/**
 * Reserves tokens for one model turn on every applicable budget, or says which one is used up.
 * Bad input throws DomainError (BAD_REQUEST) and changes nothing. `budgets` may be passed when the caller
 * already loaded them (the rate limiter reads the same rows).
 */
export async function reserve(
  db: Db,
  input: { conversationId: string; userId: string; estimate: number; now?: Date; budgets?: ApplicableBudgets },
): Promise<ReserveResult> {
  const conversationId = requireId(input.conversationId, "conversationId");
  const userId = requireId(input.userId, "userId");
  const estimate = requireTokens(input.estimate, "estimate");
  const now = requireDate(input.now ?? new Date());
  const budgets = input.budgets ?? (await loadBudgets(db, { conversationId, userId }));

  const subjects: Record<CounterScope, [string, BudgetLimits]> = {
    GLOBAL: ["", budgets.global],
    CONVERSATION: [conversationId, budgets.conversation],
    USER: [userId, budgets.user],
  };
  const keys: CounterKey[] = SCOPE_ORDER.flatMap((scope) =>
    WINDOWS.map((window) => {
      const [subject, limits] = subjects[scope];
      return {
        scope,
        subject,
        window,
        windowStart: windowStart(window, now),
        limit: limitOf(limits, window),
        source: limits.source,
      };
    }),
  );

  return db.$transaction(async (tx) => {
    // Upsert and lock in one statement, in SCOPE_ORDER x WINDOWS order (rows are processed in
    // VALUES order); the no-op update takes the row lock and RETURNING shows the latest counts.
    const values = keys.map(
      (k) =>
        Prisma.sql`(${randomUUID()}, ${k.scope}::"BudgetScope", ${k.subject}, ${k.window}::"UsageWindow", ${isoDate(k.windowStart)}::date, now())`,
    );
    const rows = await tx.$queryRaw<CounterRow[]>`
      INSERT INTO "UsageCounter" ("id", "scope", "subject", "window", "windowStart", "updatedAt")
      VALUES ${Prisma.join(values)}
      ON CONFLICT ("scope", "subject", "window", "windowStart") DO UPDATE SET "updatedAt" = "UsageCounter"."updatedAt"
      RETURNING "id", "scope"::text AS "scope", "window"::text AS "window", "tokensUsed", "tokensReserved"`;

    let room = Number.POSITIVE_INFINITY;
    let exhausted: (CounterKey & { used: number; limit: number }) | undefined;
    for (const key of keys) {
      if (key.limit === null) continue;
      const row = rows.find((r) => r.scope === key.scope && r.window === key.window);
      if (!row) throw new Error(`usage counter ${key.scope}/${key.window} missing after upsert`);
      const used = Number(row.tokensUsed) + Number(row.tokensReserved);
      const left = key.limit - used;
      // Report the exhausted budget that resets last: that is when the user can talk again.
      if (left <= 0 && (!exhausted || windowReset(key.window, now) > windowReset(exhausted.window, now))) {
        exhausted = { ...key, used, limit: key.limit };
      }
      room = Math.min(room, left);
    }
    if (exhausted) {
      const { scope, subject, source, window, limit, used } = exhausted;
      return { ok: false as const, scope, subject, source, window, limit, used, resetsAt: windowReset(window, now) };
    }
    const tokens = Math.min(estimate, room);
    const counterIds = keys.map((k) => rows.find((r) => r.scope === k.scope && r.window === k.window)!.id);
    await tx.$executeRaw`
      UPDATE "UsageCounter" SET "tokensReserved" = "tokensReserved" + ${tokens}, "requests" = "requests" + 1, "updatedAt" = now()
      WHERE "id" = ANY(${counterIds})`;
    return { ok: true as const, reservation: { counterIds, tokens } };
  });
}

function checkReservation(reservation: Reservation): Reservation {
  if (
    !reservation ||
    !Array.isArray(reservation.counterIds) ||
    reservation.counterIds.some((id) => typeof id !== "string")
  ) {
    throw new DomainError("BAD_REQUEST", "reservation must come from reserve()");
  }
  requireTokens(reservation.tokens, "reservation.tokens");
  return reservation;
}

/**
 * Moves a reservation from reserved to used, charging `actualTokens` (what the model reported;
 * it may exceed the reservation). One statement; the counters are locked in reserve's order.
 */
export async function settle(db: Db, reservation: Reservation, actualTokens: number): Promise<void> {
  const { counterIds, tokens } = checkReservation(reservation);
  const actual = requireTokens(actualTokens, "actualTokens");
  await db.$executeRaw`
    UPDATE "UsageCounter" u
       SET "tokensReserved" = GREATEST(u."tokensReserved" - ${tokens}, 0),
           "tokensUsed" = u."tokensUsed" + ${actual},
           "updatedAt" = now()
      FROM (SELECT "id" FROM "UsageCounter" WHERE "id" = ANY(${[...counterIds]}) ORDER BY "scope", "window" FOR UPDATE) AS locked
     WHERE u."id" = locked."id"`;
}

/** Gives a reservation back without charging anything (the call failed or never happened). */
export function release(db: Db, reservation: Reservation): Promise<void> {
  return settle(db, reservation, 0);
}

/** One subject's counter in one window (the runtime's, the console's usage bars and budget list). */
export interface WindowUsage {
  window: BudgetWindow;
  windowStart: Date;
  resetsAt: Date;
  /** Tokens charged. */
  used: number;
  /** Tokens reserved by calls in flight. */
  reserved: number;
  /** Model calls counted. */
  requests: number;
  /** null: unlimited. */
  limit: number | null;
}

/** A counter row (or none: nothing counted yet) as the usage of `now`'s window. */
export function windowUsage(
  window: BudgetWindow,
  now: Date,
  counter: { tokensUsed: bigint | number; tokensReserved: bigint | number; requests: number } | undefined,
  limit: number | null,
): WindowUsage {
  return {
    window,
    windowStart: windowStart(window, now),
    resetsAt: windowReset(window, now),
    used: Number(counter?.tokensUsed ?? 0),
    reserved: Number(counter?.tokensReserved ?? 0),
    requests: counter?.requests ?? 0,
    limit,
  };
}

export interface Usage {
  scope: CounterScope;
  subject: string;
  /** Where the limits come from: the subject's own row, DEFAULT, or NONE. */
  source: BudgetLimits["source"];
  requestsPerMinute: number | null;
  day: WindowUsage;
  month: WindowUsage;
}

/** Usage and limits of one subject in the windows containing `now` (the console's usage bars). */
export async function usageFor(db: Db, input: { scope: CounterScope; subject: string; now?: Date }): Promise<Usage> {
  if (!SCOPE_ORDER.includes(input.scope))
    throw new DomainError("BAD_REQUEST", "scope must be GLOBAL, CONVERSATION or USER (DEFAULT is counted per subject)");
  const subject = input.scope === "GLOBAL" ? "" : requireId(input.subject, "subject");
  const now = requireDate(input.now ?? new Date());
  const rows = await db.tokenBudget.findMany({
    where: {
      scope: { in: input.scope === "GLOBAL" ? ["GLOBAL"] : [input.scope, "DEFAULT"] },
      subject: input.scope === "GLOBAL" ? "" : { in: [subject, ""] },
    },
    select: { scope: true, subject: true, dailyTokens: true, monthlyTokens: true, requestsPerMinute: true },
  });
  const own = rows.find((r) => r.scope === input.scope && r.subject === subject);
  const limits =
    asLimits(own, input.scope) ??
    asLimits(
      rows.find((r) => r.scope === "DEFAULT"),
      "DEFAULT",
    ) ??
    NONE;
  const counters = await db.usageCounter.findMany({
    where: {
      scope: input.scope,
      subject,
      OR: WINDOWS.map((window) => ({ window, windowStart: windowStart(window, now) })),
    },
    select: { window: true, tokensUsed: true, tokensReserved: true, requests: true },
  });
  const usage = (window: BudgetWindow) =>
    windowUsage(
      window,
      now,
      counters.find((r) => r.window === window),
      limitOf(limits, window),
    );
  return {
    scope: input.scope,
    subject,
    source: limits.source,
    requestsPerMinute: limits.requestsPerMinute,
    day: usage("DAY"),
    month: usage("MONTH"),
  };
}
