/**
 * Budgets & limits: token budgets per scope and the usage counted against them. Everyone signed
 * in reads; ADMIN changes them (config mutations: the runtime applies them at the new revision).
 */
import { z } from "zod";
import {
  budgetCreateSchema,
  budgetUpdateSchema,
  createBudget,
  dailyUsage,
  deleteBudget,
  listBudgets,
  updateBudget,
} from "@clawgate/core/console/budgets.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";
import { BudgetScope } from "@clawgate/db/enums";
import { applyChange, savedOutput } from "../mutation.ts";

const changed = z.object({ id: z.string(), ...savedOutput });

const windowUsage = z.object({
  window: z.enum(["DAY", "MONTH"]),
  windowStart: z.date(),
  resetsAt: z.date(),
  used: z.number().int(),
  reserved: z.number().int(),
  requests: z.number().int(),
  limit: z.number().int().nullable(),
});

const budgetListOutput = z.object({
  budgets: z.array(
    z.object({
      id: z.string(),
      scope: z.enum(BudgetScope),
      subject: z.string(),
      maxContextTokens: z.number().int().nullable(),
      dailyTokens: z.number().int().nullable(),
      monthlyTokens: z.number().int().nullable(),
      requestsPerMinute: z.number().int().nullable(),
      createdAt: z.date(),
      updatedAt: z.date(),
      routeCount: z.number().int(),
      day: windowUsage,
      month: windowUsage,
      topToday: z.array(
        z.object({
          scope: z.enum(BudgetScope),
          subject: z.string(),
          used: z.number().int(),
          reserved: z.number().int(),
          requests: z.number().int(),
        }),
      ),
    }),
  ),
  daily: z.array(z.object({ day: z.string(), tokens: z.number().int(), requests: z.number().int() })),
  now: z.date(),
});

export const budgetRouter = createTRPCRouter({
  list: viewerProcedure.output(budgetListOutput).query(async ({ ctx }) => {
    const now = new Date();
    const [budgets, daily] = await Promise.all([listBudgets(ctx.db, now), dailyUsage(ctx.db, { days: 14, now })]);
    return { budgets, daily, now };
  }),

  create: adminProcedure
    .input(budgetCreateSchema)
    .output(changed)
    .mutation(({ ctx, input }) =>
      applyChange(
        ctx,
        (tx) => createBudget(tx, input),
        ({ result, diff }) => ({
          action: "budget.create",
          targetType: "token_budget",
          targetId: result.label,
          diff,
          summary: `Budget ${result.label} created`,
        }),
      ),
    ),

  update: adminProcedure
    .input(budgetUpdateSchema)
    .output(changed)
    .mutation(({ ctx, input }) =>
      applyChange(
        ctx,
        (tx) => updateBudget(tx, input),
        ({ result, diff }) => ({
          action: "budget.update",
          targetType: "token_budget",
          targetId: result.label,
          diff,
          summary: `Budget ${result.label} updated`,
        }),
      ),
    ),

  delete: adminProcedure
    .input(z.strictObject({ id: z.string().min(1) }))
    .output(changed)
    .mutation(({ ctx, input }) =>
      applyChange(
        ctx,
        (tx) => deleteBudget(tx, input.id),
        ({ result, diff }) => ({
          action: "budget.delete",
          targetType: "token_budget",
          targetId: result.label,
          diff,
          summary: `Budget ${result.label} deleted`,
        }),
      ),
    ),
});
