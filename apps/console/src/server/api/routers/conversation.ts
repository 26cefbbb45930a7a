import { z } from "zod";
import {
  CONVERSATION_STATUSES,
  type ConversationChange,
  conversationListSchema,
  conversationUpdateSchema,
  listConversations,
  updateConversation,
} from "@clawgate/core/console/conversations.ts";
import { ConversationStatus, ConversationType, Environment } from "@clawgate/db/enums";
import { configMutation, savedOutput } from "../mutation.ts";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc.ts";

const conversationListOutput = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      conversationId: z.string(),
      title: z.string().nullable(),
      type: z.enum(ConversationType),
      environment: z.enum(Environment),
      status: z.enum(ConversationStatus),
      firstSeenAt: z.date(),
      lastSeenAt: z.date(),
    }),
  ),
  total: z.number().int(),
  page: z.number().int(),
  pageSize: z.number().int(),
  counts: z.record(z.enum(CONVERSATION_STATUSES), z.number().int()),
});
export type ConversationList = z.infer<typeof conversationListOutput>;
export type ConversationListItem = ConversationList["items"][number];

export const conversationRouter = createTRPCRouter({
  list: viewerProcedure
    .input(conversationListSchema.optional())
    .output(conversationListOutput)
    .query(({ ctx, input }) => listConversations(ctx.db, input)),

  /** Enable/disable and/or set the environment: a config change (the runtime's snapshot reads both). */
  update: operatorProcedure
    .input(conversationUpdateSchema)
    .output(
      z.object({
        id: z.string(),
        conversationId: z.string(),
        title: z.string().nullable(),
        status: z.enum(ConversationStatus),
        environment: z.enum(Environment),
        summary: z.string(),
        ...savedOutput,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { result, revision, changed } = await configMutation(
        ctx,
        (c: ConversationChange) => ({
          action: "conversation.update",
          targetType: "conversation",
          targetId: c.conversationId,
          diff: c.diff,
          summary: c.summary,
        }),
        (tx) => updateConversation(tx, input),
      );
      return { ...result, revision, changed };
    }),
});
