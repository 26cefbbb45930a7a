/**
 * Approvals: write/destructive skill calls waiting for a human. Everyone signed in reads;
 * APPROVER and ADMIN decide. The list, the metrics and the decision are core's (approvals.ts):
 * a decision is one vote (quorum, no self-approval), committed with its audit entry and the job
 * that makes the runtime execute or answer it. Core's DomainError maps to tRPC codes in trpc.ts.
 */
import { z } from "zod";
import { approvalListInput, approvalMetrics, decideApproval, listApprovals } from "@clawgate/core/approvals.ts";
import { ApprovalStatus } from "@clawgate/db/enums";
import { actorOf } from "../mutation.ts";
import { approverProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

export { approvalListInput };

export const approvalRouter = createTRPCRouter({
  list: viewerProcedure.input(approvalListInput).query(({ ctx, input }) => listApprovals(ctx.db, input)),

  metrics: viewerProcedure.query(({ ctx }) => approvalMetrics(ctx.db)),

  decide: approverProcedure
    .input(
      z.strictObject({
        id: z.string().trim().min(1, "the request id is required").max(64),
        approve: z.boolean(),
        note: z.string().trim().max(1_000, "the note is at most 1,000 characters").optional(),
      }),
    )
    .output(
      z.object({
        id: z.string(),
        status: z.enum(ApprovalStatus),
        approvals: z.number().int(),
        required: z.number().int(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { request, approvals, required } = await decideApproval(ctx.db, actorOf(ctx), {
        ...input,
        traceId: ctx.requestId,
      });
      return { id: request.id, status: request.status, approvals, required };
    }),
});
