import { z } from "zod";
import {
  applySafeMode,
  SAFE_MODE_LEVELS,
  safeModeHistory,
  safeModeInputSchema,
  safeModeStatus,
  type SafeModeChange,
} from "@clawgate/core/safe-mode.ts";
import { ActorType } from "@clawgate/db/enums";
import { actorOf, configMutation, savedOutput } from "../mutation.ts";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc.ts";

const level = z.enum(SAFE_MODE_LEVELS);
const event = z.object({
  id: z.string(),
  level,
  reason: z.string(),
  actorType: z.enum(ActorType),
  actorName: z.string(),
  startedAt: z.date(),
  expiresAt: z.date().nullable(),
  endedAt: z.date().nullable(),
  endedBy: z.string().nullable(),
  endReason: z.string().nullable(),
});

export const safeModeRouter = createTRPCRouter({
  /** The current state as the runtime applies it (an activation past its TTL counts as off). */
  get: viewerProcedure
    .output(
      z.object({
        active: z.boolean(),
        level,
        message: z.string().nullable(),
        event: event.nullable(),
        expired: z.boolean(),
        now: z.date(),
      }),
    )
    .query(({ ctx }) => safeModeStatus(ctx.db)),

  /** Activations, newest first, cursor-paged. */
  history: viewerProcedure
    .input(
      z.object({ cursor: z.string().min(1).optional(), limit: z.number().int().min(1).max(50).default(10) }).optional(),
    )
    .output(
      z.object({ items: z.array(event), nextCursor: z.string().nullable(), total: z.number().int(), now: z.date() }),
    )
    .query(({ ctx, input }) => safeModeHistory(ctx.db, { cursor: input?.cursor, limit: input?.limit ?? 10 })),

  /** On (with level, reason, TTL, message) or off (with reason): OPERATOR and ADMIN. */
  set: operatorProcedure
    .input(safeModeInputSchema)
    .output(
      z.object({
        active: z.boolean(),
        level,
        message: z.string().nullable(),
        eventId: z.string(),
        expiresAt: z.date().nullable(),
        kind: z.enum(["on", "update", "off"]),
        ...savedOutput,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { result, revision, changed } = await configMutation(
        ctx,
        (r: SafeModeChange) => r.audit,
        (tx) => applySafeMode(tx, actorOf(ctx), input),
      );
      return { ...result, revision, changed };
    }),
});
