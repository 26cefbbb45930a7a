/**
 * Models & routes: model endpoints and the routes to them. Everyone signed in reads; ADMIN
 * changes them (config mutations: the runtime reloads its routes at the new revision).
 */
import { z } from "zod";
import {
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
import { applyChange, savedOutput } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

const idInput = z.strictObject({ id: z.string().min(1) });
const changed = z.object({ id: z.string(), ...savedOutput });

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
