/**
 * Approvals: write/destructive skill calls waiting for a human. Everyone signed in reads;
 * APPROVER and ADMIN decide. The decision is core's `decideApproval` (row lock, audit, and the
 * job that makes the runtime execute or answer it, all in one transaction).
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import {
  ApprovalError,
  approvalListColumns,
  decideApproval,
  type ApprovalErrorCode,
} from "@clawgate/core/approvals.ts";
import { redactInput } from "@clawgate/core/redact.ts";
import { ApprovalStatus } from "@clawgate/db/enums";
import { actorOf } from "../mutation.ts";
import { approverProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

const ERROR_CODES: Record<ApprovalErrorCode, TRPCError["code"]> = {
  invalid_input: "BAD_REQUEST",
  not_found: "NOT_FOUND",
  already_decided: "CONFLICT",
  expired: "PRECONDITION_FAILED",
  forbidden: "FORBIDDEN",
};

export const approvalListInput = z
  .strictObject({
    status: z.enum(ApprovalStatus).optional(),
    page: z.number().int().min(1).max(10_000).default(1),
    pageSize: z.number().int().min(1).max(100).default(20),
  })
  .default({ page: 1, pageSize: 20 });

export const approvalRouter = createTRPCRouter({
  list: viewerProcedure.input(approvalListInput).query(async ({ ctx, input }) => {
    const where = input.status ? { status: input.status } : {};
    const [rows, total, pending] = await Promise.all([
      ctx.db.approvalRequest.findMany({
        where,
        // PENDING is the enum's first value and PostgreSQL sorts enums in declaration order: pending first.
        orderBy: [{ status: "asc" }, { createdAt: "desc" }, { id: "desc" }],
        skip: (input.page - 1) * input.pageSize,
        take: input.pageSize,
        select: {
          ...approvalListColumns,
          skill: { select: { riskClass: true, description: true } },
          decidedBy: { select: { name: true, email: true } },
        },
      }),
      ctx.db.approvalRequest.count({ where }),
      ctx.db.approvalRequest.count({ where: { status: "PENDING", expiresAt: { gt: new Date() } } }),
    ]);
    const titles = new Map(
      (
        await ctx.db.conversation.findMany({
          where: { conversationId: { in: [...new Set(rows.map((r) => r.conversationId))] } },
          select: { conversationId: true, title: true },
        })
      ).map((c) => [c.conversationId, c.title]),
    );
    return {
      items: rows.map(({ input: raw, decidedBy, ...r }) => ({
        ...r,
        input: redactInput(raw),
        conversationTitle: titles.get(r.conversationId) ?? null,
        decidedBy: decidedBy ? (decidedBy.name ?? decidedBy.email) : null,
      })),
      total,
      pending,
      page: input.page,
      pageCount: Math.max(1, Math.ceil(total / input.pageSize)),
      now: new Date(),
    };
  }),

  decide: approverProcedure
    .input(
      z.strictObject({
        id: z.string().trim().min(1, "the request id is required").max(64),
        approve: z.boolean(),
        note: z.string().trim().max(1_000, "the note is at most 1,000 characters").optional(),
      }),
    )
    .output(z.object({ id: z.string(), status: z.enum(ApprovalStatus) }))
    .mutation(async ({ ctx, input }) => {
      try {
        const updated = await decideApproval(ctx.db, actorOf(ctx), { ...input, traceId: ctx.requestId });
        return { id: updated.id, status: updated.status };
      } catch (e) {
        if (e instanceof ApprovalError)
          throw new TRPCError({ code: ERROR_CODES[e.code], message: e.message, cause: e });
        throw e;
      }
    }),
});
