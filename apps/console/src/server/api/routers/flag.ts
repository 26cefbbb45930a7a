import type { AuditAction } from "@clawgate/core";
import { z } from "zod";
import {
  createFlag,
  type FlagChange,
  flagCreateSchema,
  flagToggleSchema,
  listFlags,
  setFlag,
} from "@clawgate/core/console/flags.ts";
import { configMutation, savedOutput } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

const flagListOutput = z.array(
  z.object({
    key: z.string(),
    description: z.string(),
    enabled: z.boolean(),
    updatedAt: z.date(),
    gates: z.array(z.string()),
  }),
);

const flagSaved = z.object({
  key: z.string(),
  enabled: z.boolean(),
  description: z.string(),
  summary: z.string(),
  ...savedOutput,
});

const record = (action: AuditAction) => (f: FlagChange) => ({
  action,
  targetType: "feature_flag",
  targetId: f.key,
  diff: f.diff,
  summary: f.summary,
});

export const flagRouter = createTRPCRouter({
  list: viewerProcedure.output(flagListOutput).query(({ ctx }) => listFlags(ctx.db)),

  toggle: adminProcedure
    .input(flagToggleSchema)
    .output(flagSaved)
    .mutation(async ({ ctx, input }) => {
      const { result, revision, changed } = await configMutation(ctx, record("flag.update"), (tx) =>
        setFlag(tx, input),
      );
      return { ...result, revision, changed };
    }),

  create: adminProcedure
    .input(flagCreateSchema)
    .output(flagSaved)
    .mutation(async ({ ctx, input }) => {
      const { result, revision, changed } = await configMutation(ctx, record("flag.create"), (tx) =>
        createFlag(tx, input),
      );
      return { ...result, revision, changed };
    }),
});
