/**
 * Dead letters: messages and jobs the runtime gave up on (reason, trace id, time). Everyone
 * signed in reads them; an operator or admin retries one, which core's `retryDeadLetter` puts
 * back on the queue and audits in one transaction.
 */
import { z } from "zod";
import {
  listDeadLetters,
  listDeadLettersInput,
  retryDeadLetter,
  retryDeadLetterInput,
} from "@clawgate/core/dead-letters.ts";
import { DeadLetterSource, DeadLetterStatus } from "@clawgate/db/enums";
import { actorOf } from "../mutation.ts";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc.ts";

const deadLetterListOutput = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      source: z.enum(DeadLetterSource),
      status: z.enum(DeadLetterStatus),
      reason: z.string(),
      errorCode: z.string().nullable(),
      traceId: z.string(),
      inboundMessageId: z.string().nullable(),
      conversationId: z.string().nullable(),
      channel: z.string().nullable(),
      attempts: z.number().int(),
      createdAt: z.date(),
      retriedAt: z.date().nullable(),
      retriedBy: z.string().nullable(),
    }),
  ),
  open: z.number().int(),
});

export const deadLetterRouter = createTRPCRouter({
  list: viewerProcedure
    .input(listDeadLettersInput.strict().default({ status: "OPEN", limit: 50 }))
    .output(deadLetterListOutput)
    .query(({ ctx, input }) => listDeadLetters(ctx.db, input)),

  retry: operatorProcedure
    .input(retryDeadLetterInput.pick({ id: true }).strict())
    .output(z.object({ id: z.string(), status: z.enum(DeadLetterStatus) }))
    .mutation(async ({ ctx, input }) => {
      const letter = await retryDeadLetter(ctx.db, actorOf(ctx), { id: input.id, traceId: ctx.requestId });
      return { id: letter.id, status: letter.status };
    }),
});
