import { z } from "zod";
import {
  applyKillSwitch,
  applySafeMode,
  killSwitchInputSchema,
  SAFE_MODE_LEVELS,
  safeModeHistory,
  safeModeInputSchema,
  safeModeStatus,
  type SafeModeChange,
} from "@clawgate/core/safe-mode.ts";
import { ActorType, SafeModeKind } from "@clawgate/db/enums";
import { actorOf, configMutation, savedOutput } from "../mutation.ts";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc.ts";

const level = z.enum(SAFE_MODE_LEVELS);
const event = z.object({
  id: z.string(),
  kind: z.enum(SafeModeKind),
  level,
  scopes: z.array(z.string()),
  message: z.string().nullable(),
  reason: z.string(),
  actorType: z.enum(ActorType),
  actorName: z.string(),
  startedAt: z.date(),
  expiresAt: z.date().nullable(),
  endedAt: z.date().nullable(),
  endedBy: z.string().nullable(),
  endReason: z.string().nullable(),
});

const changeOutput = z.object({
  active: z.boolean(),
  level,
  scopes: z.array(z.string()),
  message: z.string().nullable(),
  eventId: z.string(),
  eventIds: z.array(z.string()),
  expiresAt: z.date().nullable(),
  kind: z.enum(["on", "update", "off"]),
  ...savedOutput,
});

export const safeModeRouter = createTRPCRouter({
  /** What is in force, as the runtime applies it (an activation past its TTL counts as ended). */
  get: viewerProcedure
    .output(
      z.object({
        active: z.boolean(),
        level: level.nullable(),
        activations: z.array(event),
        killSwitch: event.nullable(),
        now: z.date(),
      }),
    )
    .query(({ ctx }) => safeModeStatus(ctx.db)),

  /** Activations (and kill switches), newest first, cursor-paged. */
  history: viewerProcedure
    .input(
      z.object({ cursor: z.string().min(1).optional(), limit: z.number().int().min(1).max(50).default(10) }).optional(),
    )
    .output(
      z.object({ items: z.array(event), nextCursor: z.string().nullable(), total: z.number().int(), now: z.date() }),
    )
    .query(({ ctx, input }) => safeModeHistory(ctx.db, { cursor: input?.cursor, limit: input?.limit ?? 10 })),

  /**
   * On (scopes, level, reason, TTL, message; an `id` or the same scopes update one in force) or
   * off (an `id`, `all`, or the only one in force; with a reason): OPERATOR and ADMIN.
   */
  set: operatorProcedure
    .input(safeModeInputSchema)
    .output(changeOutput)
    .mutation(async ({ ctx, input }) => {
      const { result, revision, changed } = await configMutation(
        ctx,
        (r: SafeModeChange) => r.audit,
        (tx) => applySafeMode(tx, actorOf(ctx), input),
      );
      return { ...result, revision, changed };
    }),

  /** The kill switch on or off, with a reason: OPERATOR and ADMIN. */
  killSwitch: operatorProcedure
    .input(killSwitchInputSchema)
    .output(changeOutput)
    .mutation(async ({ ctx, input }) => {
      const { result, revision, changed } = await configMutation(
        ctx,
        (r: SafeModeChange) => r.audit,
        (tx) => applyKillSwitch(tx, actorOf(ctx), input),
      );
      return { ...result, revision, changed };
    }),
});
