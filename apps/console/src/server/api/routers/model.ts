/**
 * Models & routes: model endpoints and the routes to them. Everyone signed in reads; ADMIN
 * changes them (config mutations: the runtime reloads its routes at the new revision).
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import {
  ConsoleError,
  type Change,
  createEndpoint,
  deleteEndpoint,
  deleteRoute,
  endpointCreateSchema,
  endpointUpdateSchema,
  listModels,
  routeSetSchema,
  setRoute,
  updateEndpoint,
} from "@clawgate/core/console/models.ts";
import type { Tx } from "@clawgate/db";
import { configMutation, type MutationRecord } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

/** Core's refusals become tRPC errors with the same message; anything else propagates. */
export async function consoleErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof ConsoleError) throw new TRPCError({ code: e.code, message: e.message, cause: e });
    throw e;
  }
}

type SignedInCtx = Parameters<typeof configMutation>[0];

/** Thrown inside the transaction when a save changes nothing: no audit entry, no new revision. */
class NoChange extends Error {
  constructor(readonly id: string) {
    super("nothing changed");
  }
}

/**
 * A core change on the config mutation's transaction (audit + revision), refusals mapped. A
 * save that changes nothing records nothing (`revision: null`).
 */
export async function applyChange<R extends { id: string }>(
  ctx: SignedInCtx,
  change: (tx: Tx) => Promise<Change<R>>,
  describe: (c: Change<R>) => MutationRecord,
): Promise<{ id: string; revision: number | null }> {
  try {
    const { result, revision } = await consoleErrors(() =>
      configMutation(ctx, describe, async (tx) => {
        const c = await change(tx);
        if (Object.keys(c.diff).length === 0) throw new NoChange(c.result.id);
        return c;
      }),
    );
    return { id: result.result.id, revision };
  } catch (e) {
    if (e instanceof NoChange) return { id: e.id, revision: null };
    throw e;
  }
}

const idInput = z.strictObject({ id: z.string().min(1) });
const changed = z.object({ id: z.string(), revision: z.number().int().nullable() });

export const modelRouter = createTRPCRouter({
  list: viewerProcedure.query(({ ctx }) => listModels(ctx.db)),

  createEndpoint: adminProcedure
    .input(endpointCreateSchema)
    .output(changed)
    .mutation(({ ctx, input }) =>
      applyChange(
        ctx,
        (tx) => createEndpoint(tx, input, ctx.secretRefs),
        ({ result, diff }) => ({
          action: "model.create",
          targetType: "model_endpoint",
          targetId: result.name,
          diff,
          summary: `Model endpoint ${result.name} created`,
        }),
      ),
    ),

  updateEndpoint: adminProcedure
    .input(endpointUpdateSchema)
    .output(changed)
    .mutation(({ ctx, input }) =>
      applyChange(
        ctx,
        (tx) => updateEndpoint(tx, input, ctx.secretRefs),
        ({ result, diff }) => ({
          action: "model.update",
          targetType: "model_endpoint",
          targetId: result.name,
          diff,
          summary: `Model endpoint ${result.name} ${input.enabled === false ? "disabled" : input.enabled === true && Object.keys(diff).length === 1 ? "enabled" : "updated"}`,
        }),
      ),
    ),

  deleteEndpoint: adminProcedure
    .input(idInput)
    .output(changed)
    .mutation(({ ctx, input }) =>
      applyChange(
        ctx,
        (tx) => deleteEndpoint(tx, input.id),
        ({ result, diff }) => ({
          action: "model.delete",
          targetType: "model_endpoint",
          targetId: result.name,
          diff,
          summary: `Model endpoint ${result.name} deleted`,
        }),
      ),
    ),

  setRoute: adminProcedure
    .input(routeSetSchema)
    .output(changed)
    .mutation(({ ctx, input }) =>
      applyChange(
        ctx,
        (tx) => setRoute(tx, input),
        ({ result, diff }) => ({
          action: "route.set",
          targetType: "route",
          targetId: result.scope,
          diff,
          summary: result.scope === "default" ? "Default route changed" : `Route for ${result.scope} set`,
        }),
      ),
    ),

  deleteRoute: adminProcedure
    .input(idInput)
    .output(changed)
    .mutation(({ ctx, input }) =>
      applyChange(
        ctx,
        (tx) => deleteRoute(tx, input.id),
        ({ result, diff }) => ({
          action: "route.delete",
          targetType: "route",
          targetId: result.scope,
          diff,
          summary: `Route for ${result.scope} deleted`,
        }),
      ),
    ),
});
