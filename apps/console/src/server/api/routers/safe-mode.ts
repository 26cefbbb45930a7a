import { z } from "zod";
import { applySafeMode, safeModeInputSchema, type SafeModeChange } from "@clawgate/core/safe-mode.ts";
import { actorOf, configMutation } from "../mutation.ts";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc.ts";

const eventSelect = {
  id: true,
  level: true,
  reason: true,
  actorType: true,
  actorName: true,
  startedAt: true,
  expiresAt: true,
  endedAt: true,
  endedBy: true,
  endReason: true,
} as const;

export const safeModeRouter = createTRPCRouter({
  /** The current state as the runtime applies it (an activation past its TTL counts as off). */
  get: viewerProcedure.query(async ({ ctx }) => {
    const state = await ctx.db.safeModeState.findUnique({
      where: { id: 1 },
      include: { currentEvent: { select: eventSelect } },
    });
    const now = new Date();
    const event = state?.active ? (state.currentEvent ?? null) : null;
    const expired = !!event?.expiresAt && event.expiresAt.getTime() <= now.getTime();
    return {
      active: !!state?.active && !expired,
      level: state?.level ?? "READ_ONLY",
      message: state?.active ? (state.message ?? null) : null,
      event,
      expired,
      now,
    };
  }),

  /** Activations, newest first, cursor-paged. */
  history: viewerProcedure
    .input(
      z.object({ cursor: z.string().min(1).optional(), limit: z.number().int().min(1).max(50).default(10) }).optional(),
    )
    .query(async ({ ctx, input }) => {
      const limit = input?.limit ?? 10;
      const rows = await ctx.db.safeModeEvent.findMany({
        orderBy: [{ startedAt: "desc" }, { id: "desc" }],
        take: limit + 1,
        ...(input?.cursor ? { cursor: { id: input.cursor }, skip: 1 } : {}),
        select: eventSelect,
      });
      const more = rows.length > limit;
      const total = await ctx.db.safeModeEvent.count();
      // The server's clock, so the page can tell an unclosed activation past its TTL from an ongoing one.
      return {
        items: more ? rows.slice(0, limit) : rows,
        nextCursor: more ? rows[limit - 1]!.id : null,
        total,
        now: new Date(),
      };
    }),

  /** On (with level, reason, TTL, message) or off (with reason): OPERATOR and ADMIN. */
  set: operatorProcedure.input(safeModeInputSchema).mutation(async ({ ctx, input }) => {
    const { result, revision } = await configMutation(
      ctx,
      (r: SafeModeChange) => r.audit,
      (tx) => applySafeMode(tx, actorOf(ctx), input),
    );
    const { audit: _audit, ...change } = result;
    return { ...change, revision };
  }),
});
