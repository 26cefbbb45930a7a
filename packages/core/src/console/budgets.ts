/**
 * Budgets & limits for the console: TokenBudget rows per scope (GLOBAL, DEFAULT, CONVERSATION,
 * USER) and the usage the runtime counted against them (UsageCounter, DAY and MONTH windows
 * starting at UTC midnight / the first of the month). A limit left empty is unlimited.
 */
import type { BudgetScope, Db, Tx } from "@clawgate/db";
import { z } from "zod";
import { diffFields } from "../diff.ts";
import { windowStart, windowUsage, type BudgetWindow, type WindowUsage } from "../limits/budget.ts";
import { DomainError } from "../errors.ts";
import type { Change } from "./models.ts";

const INT_MAX = 2_147_483_647; // the columns are 32-bit integers

/** A positive whole number, or null for unlimited (also the onboarding file's budget limits). */
export const budgetLimit = z
  .number({ error: "must be a positive whole number, or empty for unlimited" })
  .int({ error: "must be a whole number" })
  .positive({ error: "must be positive (leave it empty for unlimited)" })
  .max(INT_MAX, { error: `at most ${INT_MAX}` })
  .nullable();

const limits = {
  maxContextTokens: budgetLimit,
  dailyTokens: budgetLimit,
  monthlyTokens: budgetLimit,
  requestsPerMinute: budgetLimit,
};
export const LIMIT_FIELDS = ["maxContextTokens", "dailyTokens", "monthlyTokens", "requestsPerMinute"] as const;

export const budgetCreateSchema = z
  .strictObject({
    scope: z.enum(["GLOBAL", "DEFAULT", "CONVERSATION", "USER"], {
      error: "must be GLOBAL, DEFAULT, CONVERSATION or USER",
    }),
    /** "" for GLOBAL and DEFAULT; a DingTalk conversationId or user id otherwise. */
    subject: z.string().trim().max(200, { error: "at most 200 characters" }).default(""),
    ...limits,
  })
  .superRefine((b, ctx) => {
    const needsSubject = b.scope === "CONVERSATION" || b.scope === "USER";
    if (needsSubject && b.subject === "") {
      ctx.addIssue({
        code: "custom",
        path: ["subject"],
        message:
          b.scope === "USER"
            ? "a user budget needs the DingTalk user id"
            : "a conversation budget needs the DingTalk conversationId",
      });
    }
    if (!needsSubject && b.subject !== "")
      ctx.addIssue({ code: "custom", path: ["subject"], message: `a ${b.scope.toLowerCase()} budget has no subject` });
    if (/\s/.test(b.subject)) ctx.addIssue({ code: "custom", path: ["subject"], message: "must not contain spaces" });
  });
export type BudgetCreate = z.input<typeof budgetCreateSchema>;

/** Scope and subject are the budget's identity (counters are keyed on them): only limits change. */
export const budgetUpdateSchema = z.strictObject({ id: z.string().min(1), ...limits });
export type BudgetUpdate = z.input<typeof budgetUpdateSchema>;

export const budgetLabel = (b: { scope: BudgetScope | string; subject: string }) =>
  `${b.scope}${b.subject ? ` ${b.subject}` : ""}`;

/**
 * Budgets with the usage in their current DAY and MONTH windows: what the runtime counted under
 * the budget's own (scope, subject) (see limits/budget.ts: counters are GLOBAL, CONVERSATION and
 * USER; a DEFAULT budget is counted per conversation and user, see `topToday`).
 */
export async function listBudgets(db: Db | Tx, now = new Date()) {
  const [budgets, counters] = await Promise.all([
    db.tokenBudget.findMany({
      orderBy: [{ scope: "asc" }, { subject: "asc" }],
      include: { _count: { select: { routes: true } } },
    }),
    db.usageCounter.findMany({
      where: {
        OR: [
          { window: "DAY", windowStart: windowStart("DAY", now) },
          { window: "MONTH", windowStart: windowStart("MONTH", now) },
        ],
      },
      select: { scope: true, subject: true, window: true, tokensUsed: true, tokensReserved: true, requests: true },
    }),
  ]);
  const usage = (
    b: { scope: string; subject: string; dailyTokens: number | null; monthlyTokens: number | null },
    window: BudgetWindow,
  ): WindowUsage =>
    windowUsage(
      window,
      now,
      counters.find((x) => x.scope === b.scope && x.subject === b.subject && x.window === window),
      window === "DAY" ? b.dailyTokens : b.monthlyTokens,
    );
  // DEFAULT limits each conversation and user without a budget of its own, counted separately:
  // show the heaviest of them today against it.
  const own = new Set(budgets.map((b) => `${b.scope}:${b.subject}`));
  const underDefault = counters
    .filter(
      (c) =>
        c.window === "DAY" && (c.scope === "CONVERSATION" || c.scope === "USER") && !own.has(`${c.scope}:${c.subject}`),
    )
    .sort((a, b) => Number(b.tokensUsed - a.tokensUsed))
    .slice(0, 5)
    .map((c) => ({
      scope: c.scope,
      subject: c.subject,
      used: Number(c.tokensUsed),
      reserved: Number(c.tokensReserved),
      requests: c.requests,
    }));
  return budgets.map(({ _count, ...b }) => ({
    ...b,
    routeCount: _count.routes,
    day: usage(b, "DAY"),
    month: usage(b, "MONTH"),
    /** DEFAULT only: the top conversations and users it applies to, by tokens today. */
    topToday: b.scope === "DEFAULT" ? underDefault : [],
  }));
}

/**
 * Tokens used per UTC day for the last `days` days (today included, oldest first, days
 * without a counter as 0) under one (scope, subject): by default the organisation (GLOBAL).
 */
export async function dailyUsage(
  db: Db | Tx,
  opts: { scope?: BudgetScope; subject?: string; days?: number; now?: Date } = {},
): Promise<{ day: string; tokens: number; requests: number }[]> {
  const days = Math.min(Math.max(opts.days ?? 14, 1), 366);
  const today = windowStart("DAY", opts.now ?? new Date());
  const first = new Date(today.getTime() - (days - 1) * 86_400_000);
  const rows = await db.usageCounter.findMany({
    where: {
      scope: opts.scope ?? "GLOBAL",
      subject: opts.subject ?? "",
      window: "DAY",
      windowStart: { gte: first, lte: today },
    },
    select: { windowStart: true, tokensUsed: true, requests: true },
  });
  const byDay = new Map(rows.map((r) => [r.windowStart.toISOString().slice(0, 10), r]));
  return Array.from({ length: days }, (_, i) => {
    const day = new Date(first.getTime() + i * 86_400_000).toISOString().slice(0, 10);
    const row = byDay.get(day);
    return { day, tokens: Number(row?.tokensUsed ?? 0), requests: row?.requests ?? 0 };
  });
}

export async function createBudget(tx: Tx, input: BudgetCreate): Promise<Change<{ id: string; label: string }>> {
  const data = budgetCreateSchema.parse(input);
  const label = budgetLabel(data);
  if (
    await tx.tokenBudget.findUnique({
      where: { scope_subject: { scope: data.scope, subject: data.subject } },
      select: { id: true },
    })
  ) {
    throw new DomainError("CONFLICT", `A ${label} budget already exists: edit it instead.`);
  }
  const created = await tx.tokenBudget.create({ data, select: { id: true } });
  // A new budget's diff names the limits it sets (null = unlimited, nothing to show).
  const set = Object.fromEntries(LIMIT_FIELDS.filter((k) => data[k] !== null).map((k) => [k, data[k]]));
  return { result: { id: created.id, label }, diff: diffFields(null, set) };
}

export async function updateBudget(tx: Tx, input: BudgetUpdate): Promise<Change<{ id: string; label: string }>> {
  const { id, ...patch } = budgetUpdateSchema.parse(input);
  const before = await tx.tokenBudget.findUnique({ where: { id } });
  if (!before) throw new DomainError("NOT_FOUND", "No such budget (it may have been deleted).");
  const current = Object.fromEntries(LIMIT_FIELDS.map((k) => [k, before[k]]));
  const diff = diffFields(current, patch);
  if (Object.keys(diff).length > 0) await tx.tokenBudget.update({ where: { id }, data: patch });
  return { result: { id, label: budgetLabel(before) }, diff };
}

/** Deletes a budget; routes that named it keep running without one (the foreign key sets null). */
export async function deleteBudget(tx: Tx, id: string): Promise<Change<{ id: string; label: string }>> {
  const before = await tx.tokenBudget.findUnique({ where: { id } });
  if (!before) throw new DomainError("NOT_FOUND", "No such budget (it may have been deleted).");
  await tx.tokenBudget.delete({ where: { id } });
  const current = Object.fromEntries(LIMIT_FIELDS.map((k) => [k, before[k]]));
  return { result: { id, label: budgetLabel(before) }, diff: diffFields(current, {}) };
}
