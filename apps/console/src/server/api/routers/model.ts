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
import { BudgetScope, ConversationStatus, ModelKind } from "@clawgate/db/enums";
import { applyChange, savedOutput } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

const idInput = z.strictObject({ id: z.string().min(1) });
const changed = z.object({ id: z.string(), ...savedOutput });

const route = z.object({
  id: z.string(),
  isDefault: z.boolean(),
  conversationId: z.string().nullable(),
  modelEndpointId: z.string(),
  budgetId: z.string().nullable(),
  maxToolRounds: z.number().int(),
  createdAt: z.date(),
  updatedAt: z.date(),
  conversation: z.object({ id: z.string(), conversationId: z.string(), title: z.string().nullable() }).nullable(),
  modelEndpoint: z.object({ id: z.string(), name: z.string(), enabled: z.boolean() }),
  budget: z.object({ id: z.string(), scope: z.enum(BudgetScope), subject: z.string() }).nullable(),
});

const modelListOutput = z.object({
  endpoints: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      kind: z.enum(ModelKind),
      baseUrl: z.string(),
      model: z.string(),
      apiKeyEnv: z.string().nullable(),
      timeoutMs: z.number().int(),
      maxConcurrency: z.number().int(),
      enabled: z.boolean(),
      createdAt: z.date(),
      updatedAt: z.date(),
      routeCount: z.number().int(),
      isDefault: z.boolean(),
    }),
  ),
  defaultRoute: route.nullable(),
  conversationRoutes: z.array(route),
  conversations: z.array(
    z.object({
      id: z.string(),
      conversationId: z.string(),
      title: z.string().nullable(),
      status: z.enum(ConversationStatus),
    }),
  ),
  budgets: z.array(z.object({ id: z.string(), scope: z.enum(BudgetScope), subject: z.string() })),
});

export const modelRouter = createTRPCRouter({
  list: viewerProcedure.output(modelListOutput).query(({ ctx }) => listModels(ctx.db)),

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
