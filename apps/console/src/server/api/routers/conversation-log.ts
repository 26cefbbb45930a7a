import { z } from "zod";
import {
  conversationLog,
  conversationLogSchema,
  logTextRoles,
  logTextRolesSchema,
  setLogTextRoles,
} from "@clawgate/core/console/conversation-log.ts";
import { Role } from "@clawgate/db/enums";
import { actorOf } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

const roles = z.array(z.enum(Role));

const conversationLogOutput = z.object({
  conversation: z.object({
    id: z.string(),
    conversationId: z.string(),
    title: z.string().nullable(),
    type: z.string(),
    status: z.string(),
  }),
  textShown: z.boolean(),
  textRoles: roles,
  items: z.array(
    z.object({
      id: z.string(),
      receivedAt: z.date(),
      processedAt: z.date().nullable(),
      latencyMs: z.number().int().nullable(),
      senderId: z.string(),
      channel: z.string(),
      msgType: z.string(),
      status: z.string(),
      error: z.string().nullable(),
      traceId: z.string(),
      model: z.string().nullable(),
      configRevision: z.number().int().nullable(),
      modelCalls: z.number().int(),
      promptTokens: z.number().int(),
      completionTokens: z.number().int(),
      text: z.string().nullable(),
      senderName: z.string().nullable(),
      replies: z.array(
        z.object({
          id: z.string(),
          channel: z.string(),
          status: z.string(),
          createdAt: z.date(),
          sentAt: z.date().nullable(),
          text: z.string().nullable(),
        }),
      ),
      skills: z.array(
        z.object({
          id: z.string(),
          skillKey: z.string(),
          decision: z.string(),
          outcome: z.string(),
          reasons: z.array(z.string()),
          latencyMs: z.number().int().nullable(),
          promptTokens: z.number().int().nullable(),
          completionTokens: z.number().int().nullable(),
          configRevision: z.number().int(),
          approval: z.object({ id: z.string(), status: z.string() }).nullable(),
        }),
      ),
    }),
  ),
  nextCursor: z.string().nullable(),
  auditId: z.string().nullable(),
});
export type ConversationLogOutput = z.infer<typeof conversationLogOutput>;
export type ConversationLogItem = ConversationLogOutput["items"][number];

/**
 * A conversation's log: every signed-in role reads the metadata; texts only go to the roles the
 * `conversation_log` setting allows (decided in core, on the server), and each view with texts
 * is audited. Only an admin changes the setting.
 */
export const conversationLogRouter = createTRPCRouter({
  get: viewerProcedure
    .input(conversationLogSchema)
    .output(conversationLogOutput)
    .query(({ ctx, input }) =>
      conversationLog(ctx.db, { role: ctx.user.role, actor: actorOf(ctx), traceId: ctx.requestId }, input),
    ),
  textRoles: viewerProcedure.output(roles).query(({ ctx }) => logTextRoles(ctx.db)),
  setTextRoles: adminProcedure
    .input(logTextRolesSchema)
    .output(z.object({ roles, changed: z.boolean() }))
    .mutation(({ ctx, input }) => ctx.db.$transaction((tx) => setLogTextRoles(tx, actorOf(ctx), input))),
});
