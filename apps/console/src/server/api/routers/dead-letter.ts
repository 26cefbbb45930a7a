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
import { actorOf } from "../mutation.ts";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc.ts";

export const deadLetterRouter = createTRPCRouter({
  list: viewerProcedure
    .input(listDeadLettersInput.strict().default({ status: "OPEN", limit: 50 }))
    .query(({ ctx, input }) => listDeadLetters(ctx.db, input)),

  retry: operatorProcedure
    .input(retryDeadLetterInput.pick({ id: true }).strict())
    .output(z.object({ id: z.string(), status: z.enum(["OPEN", "RETRIED"]) }))
    .mutation(async ({ ctx, input }) => {
      const letter = await retryDeadLetter(ctx.db, actorOf(ctx), { id: input.id, traceId: ctx.requestId });
      return { id: letter.id, status: letter.status };
    }),
});
