import { z } from "zod";
import {
  readRetention,
  RETENTION_KIND_NOTES,
  RETENTION_KINDS,
  retentionSetSchema,
  setRetention,
} from "@clawgate/core/retention.ts";
import { configMutation, savedOutput } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

const periods = z.object(
  Object.fromEntries(RETENTION_KINDS.map((k) => [k, z.number().int().nullable()])) as Record<
    (typeof RETENTION_KINDS)[number],
    z.ZodNullable<z.ZodNumber>
  >,
);

const retentionOutput = z.object({
  periods,
  kinds: z.array(z.object({ kind: z.enum(RETENTION_KINDS), note: z.string() })),
  lastRun: z.object({ at: z.date(), counts: z.record(z.string(), z.number()) }).nullable(),
});

export const retentionRouter = createTRPCRouter({
  get: viewerProcedure.output(retentionOutput).query(async ({ ctx }) => {
    const [p, last] = await Promise.all([
      readRetention(ctx.db),
      ctx.db.auditLog.findFirst({
        where: { action: "retention.purge" },
        orderBy: { id: "desc" },
        select: { at: true, diff: true },
      }),
    ]);
    const counts = (last?.diff as { counts?: Record<string, number> } | null)?.counts ?? {};
    return {
      periods: p,
      kinds: RETENTION_KINDS.map((kind) => ({ kind, note: RETENTION_KIND_NOTES[kind] })),
      lastRun: last ? { at: last.at, counts } : null,
    };
  }),

  // ADMIN only: what is kept and for how long is a policy decision. Audited with a config revision.
  set: adminProcedure
    .input(retentionSetSchema)
    .output(z.object({ periods, summary: z.string(), ...savedOutput }))
    .mutation(async ({ ctx, input }) => {
      const { result, revision, changed } = await configMutation(
        ctx,
        (r: Awaited<ReturnType<typeof setRetention>>) => ({
          action: "retention.update",
          targetType: "retention",
          diff: r.diff,
          summary: r.summary,
        }),
        (tx) => setRetention(tx, input),
      );
      return { periods: result.periods, summary: result.summary, revision, changed };
    }),
});
