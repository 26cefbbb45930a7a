/**
 * Dead letters: messages and jobs the runtime gave up on (reason, trace id, time). Everyone
 * signed in reads them; an operator or admin retries one, which core's `retryDeadLetter` puts
 * back on the queue and audits in one transaction.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import {
  DeadLetterError,
  listDeadLetters,
  listDeadLettersInput,
  retryDeadLetter,
  retryDeadLetterInput,
  type DeadLetterErrorCode,
} from "@clawgate/core/dead-letters.ts";
import { actorOf } from "../mutation.ts";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc.ts";

const ERROR_CODES: Record<DeadLetterErrorCode, TRPCError["code"]> = {
  invalid_input: "BAD_REQUEST",
  not_found: "NOT_FOUND",
  already_retried: "CONFLICT",
  gone: "PRECONDITION_FAILED",
  queue_missing: "PRECONDITION_FAILED",
};

export const deadLetterRouter = createTRPCRouter({
  list: viewerProcedure
    .input(listDeadLettersInput.strict().default({ status: "OPEN", limit: 50 }))
    .query(({ ctx, input }) => listDeadLetters(ctx.db, input)),

  retry: operatorProcedure
    .input(retryDeadLetterInput.pick({ id: true }).strict())
    .output(z.object({ id: z.string(), status: z.enum(["OPEN", "RETRIED"]) }))
    .mutation(async ({ ctx, input }) => {
      try {
        const letter = await retryDeadLetter(ctx.db, actorOf(ctx), { id: input.id, traceId: ctx.requestId });
        return { id: letter.id, status: letter.status };
      } catch (e) {
        if (e instanceof DeadLetterError)
          throw new TRPCError({ code: ERROR_CODES[e.code], message: e.message, cause: e });
        throw e;
      }
    }),
});
