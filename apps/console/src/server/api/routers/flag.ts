import { TRPCError } from "@trpc/server";
import {
  createFlag,
  FlagError,
  type FlagChange,
  flagCreateSchema,
  flagToggleSchema,
  listFlags,
  setFlag,
} from "@clawgate/core/console/flags.ts";
import { configMutation } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

async function refusals<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof FlagError) throw new TRPCError({ code: error.code, message: error.message });
    throw error;
  }
}

export const flagRouter = createTRPCRouter({
  list: viewerProcedure.query(({ ctx }) => listFlags(ctx.db)),

  toggle: adminProcedure.input(flagToggleSchema).mutation(({ ctx, input }) =>
    refusals(async () => {
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
  ),

  create: adminProcedure.input(flagCreateSchema).mutation(({ ctx, input }) =>
    refusals(async () => {
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
  ),
});
