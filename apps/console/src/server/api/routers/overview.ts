import { z } from "zod";
import { getOverview } from "@clawgate/core/console/overview.ts";
import { BudgetScope, SafeModeLevel } from "@clawgate/db/enums";
import { createTRPCRouter, viewerProcedure } from "../trpc.ts";

const counts = {
  inbound: z.number().int(),
  replied: z.number().int(),
  denied: z.number().int(),
  failed: z.number().int(),
  skillCalls: z.number().int(),
  skillDenied: z.number().int(),
  skillErrors: z.number().int(),
};

const overviewOutput = z.object({
  now: z.date(),
  safeMode: z.object({
    active: z.boolean(),
    activations: z.number().int(),
    scopes: z.array(z.string()),
    killSwitch: z.boolean(),
    level: z.enum(SafeModeLevel),
    message: z.string().nullable(),
    reason: z.string().nullable(),
    since: z.date().nullable(),
    expiresAt: z.date().nullable(),
    actorName: z.string().nullable(),
  }),
  config: z.object({
    latest: z
      .object({ revision: z.number().int(), at: z.date(), summary: z.string(), actorName: z.string() })
      .nullable(),
    replicas: z.array(
      z.object({
        id: z.string(),
        hostname: z.string(),
        pid: z.number().int(),
        version: z.string(),
        mode: z.string(),
        startedAt: z.date(),
        heartbeatAt: z.date(),
        appliedRevision: z.number().int().nullable(),
        online: z.boolean(),
        upToDate: z.boolean(),
      }),
    ),
    online: z.number().int(),
    upToDate: z.number().int(),
  }),
  last24h: z.object({
    since: z.date(),
    totals: z.object(counts),
    hourly: z.array(z.object({ hour: z.date(), ...counts })),
  }),
  topSkills: z.array(
    z.object({ skillKey: z.string(), calls: z.number().int(), denied: z.number().int(), errors: z.number().int() }),
  ),
  budgets: z.array(
    z.object({
      scope: z.enum(BudgetScope),
      subject: z.string(),
      subjectScope: z.enum(BudgetScope),
      limit: z.number().int(),
      used: z.number().int(),
      reserved: z.number().int(),
      requests: z.number().int(),
    }),
  ),
});
export type OverviewData = z.infer<typeof overviewOutput>;

export const overviewRouter = createTRPCRouter({
  /** Everything the Overview page shows, in one read (the page polls it every few seconds). */
  get: viewerProcedure.output(overviewOutput).query(({ ctx }) => getOverview(ctx.db)),
});
