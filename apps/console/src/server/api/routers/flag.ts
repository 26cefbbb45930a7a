import {
  createFlag,
  type FlagChange,
  flagCreateSchema,
  flagToggleSchema,
  listFlags,
  setFlag,
} from "@clawgate/core/console/flags.ts";
import { configMutation } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

export const flagRouter = createTRPCRouter({
  list: viewerProcedure.query(({ ctx }) => listFlags(ctx.db)),

  toggle: adminProcedure.input(flagToggleSchema).mutation(async ({ ctx, input }) => {
    const { result, revision } = await configMutation(
      ctx,
      (f: FlagChange) => ({
        action: "flag.update",
        targetType: "feature_flag",
        targetId: f.key,
        diff: f.diff,
        summary: f.summary,
      }),
      (tx) => setFlag(tx, input),
    );
    return { ...result, revision };
  }),

  create: adminProcedure.input(flagCreateSchema).mutation(async ({ ctx, input }) => {
    const { result, revision } = await configMutation(
      ctx,
      (f: FlagChange) => ({
        action: "flag.create",
        targetType: "feature_flag",
        targetId: f.key,
        diff: f.diff,
        summary: f.summary,
      }),
      (tx) => createFlag(tx, input),
    );
    return { ...result, revision };
  }),
});
