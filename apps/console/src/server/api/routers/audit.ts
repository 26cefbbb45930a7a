import { auditListSchema, auditTargetTypes, listAuditLog, verifyAuditLog } from "@clawgate/core/console/audit-log.ts";
import { createTRPCRouter, viewerProcedure } from "../trpc.ts";

export type AuditList = Awaited<ReturnType<typeof listAuditLog>>;
export type AuditListItem = AuditList["items"][number];

/** The audit trail: every signed-in role reads it; nothing here writes. */
export const auditRouter = createTRPCRouter({
  list: viewerProcedure.input(auditListSchema.optional()).query(({ ctx, input }) => listAuditLog(ctx.db, input)),
  targetTypes: viewerProcedure.query(({ ctx }) => auditTargetTypes(ctx.db)),
  /** Recomputes the hash chain (read-only). */
  verify: viewerProcedure.mutation(({ ctx }) => verifyAuditLog(ctx.db)),
});
