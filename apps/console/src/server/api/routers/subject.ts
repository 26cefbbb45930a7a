import { seenSubjects } from "@clawgate/core/console/subjects.ts";
import { ConversationStatus, ConversationType, Environment } from "@clawgate/db/enums";
import { z } from "zod";
import { createTRPCRouter, viewerProcedure } from "../trpc.ts";

export const seenSubjectsOutput = z.object({
  people: z.array(z.object({ id: z.string(), name: z.string().nullable(), lastSeenAt: z.date().nullable() })),
  conversations: z.array(
    z.object({
      id: z.string(),
      name: z.string().nullable(),
      type: z.enum(ConversationType),
      status: z.enum(ConversationStatus),
      environment: z.enum(Environment),
      lastSeenAt: z.date(),
    }),
  ),
});
export type SeenSubjects = z.infer<typeof seenSubjectsOutput>;

export const subjectRouter = createTRPCRouter({
  /**
   * The people and conversations the robot has seen (ids and names), for the subject pickers of
   * rules, budgets and the "why?" check. Every role reads it: the check is open to viewers.
   */
  seen: viewerProcedure.output(seenSubjectsOutput).query(({ ctx }) => seenSubjects(ctx.db)),
});
