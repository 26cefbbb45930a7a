import {
  type ConversationChange,
  conversationListSchema,
  conversationUpdateSchema,
  listConversations,
  updateConversation,
} from "@clawgate/core/console/conversations.ts";
import { configMutation } from "../mutation.ts";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc.ts";

export type ConversationList = Awaited<ReturnType<typeof listConversations>>;
export type ConversationListItem = ConversationList["items"][number];

export const conversationRouter = createTRPCRouter({
  list: viewerProcedure
    .input(conversationListSchema.optional())
    .query(({ ctx, input }) => listConversations(ctx.db, input)),

  /** Enable/disable and/or set the environment: a config change (the runtime's snapshot reads both). */
  update: operatorProcedure.input(conversationUpdateSchema).mutation(async ({ ctx, input }) => {
    const { result, revision } = await configMutation(
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
    return { ...result, revision };
  }),
});
