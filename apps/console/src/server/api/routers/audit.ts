import { z } from "zod";
import { auditListSchema, auditTargetTypes, listAuditLog, verifyAuditLog } from "@clawgate/core/console/audit-log.ts";
import { createTRPCRouter, viewerProcedure } from "../trpc.ts";

const auditListOutput = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      at: z.date(),
      actorType: z.string(),
      actorId: z.string().nullable(),
      actorName: z.string(),
      action: z.string(),
      targetType: z.string(),
      targetId: z.string().nullable(),
      diff: z.unknown(),
      traceId: z.string().nullable(),
      configRevision: z.number().int().nullable(),
      hash: z.string(),
      actorEmail: z.string().nullable(),
      targetName: z.string().nullable(),
    }),
  ),
  nextCursor: z.string().nullable(),
});
export type AuditList = z.infer<typeof auditListOutput>;
export type AuditListItem = AuditList["items"][number];

/** The audit trail: every signed-in role reads it; nothing here writes. */
export const auditRouter = createTRPCRouter({
  list: viewerProcedure
    .input(auditListSchema.optional())
    .output(auditListOutput)
    .query(({ ctx, input }) => listAuditLog(ctx.db, input)),
  targetTypes: viewerProcedure.output(z.array(z.string())).query(({ ctx }) => auditTargetTypes(ctx.db)),
  /** Recomputes the hash chain (read-only). */
  verify: viewerProcedure
    .output(
      z.object({ ok: z.boolean(), firstBadId: z.string().nullable(), rows: z.number().int(), checkedAt: z.date() }),
    )
    .mutation(({ ctx }) => verifyAuditLog(ctx.db)),
});
