/**
 * Models & routes for the console: model endpoints (OpenAI-compatible servers) and the routes
 * that send a conversation's turns to one of them. The same tables `clawgate onboard` writes
 * (config/apply.ts), with the same rules: names as in the YAML file, API keys only as env var
 * names (the key itself never reaches the database), http(s) base URLs, the same bounds.
 *
 * Each change function runs on the caller's transaction (the console wraps it with the audit
 * entry and the config revision bump) and returns what changed, field by field.
 */
import type { Db, Tx } from "@clawgate/db";
import { z } from "zod";
import { diffFields, type FieldDiff } from "../diff.ts";
import { modelBaseUrlProblem, secretRefProblem, type SecretRefPolicy } from "../secret-refs.ts";
import { DomainError } from "../errors.ts";

// Same rules as config/schema.ts (the onboarding file): a model name there must be valid here.
const MODEL_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const ENV_VAR_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const ENV_REF = /^\$\{([^}]*)\}$/;

/**
 * The API key field holds the NAME of an env var (`LOCAL_MODEL_API_KEY` or `${LOCAL_MODEL_API_KEY}`),
 * stored without the `${}`; empty = no key. Anything else is refused without echoing it: it may be
 * a real key pasted by mistake.
 */
export const apiKeyEnvSchema = z
  .string()
  .trim()
  .transform((v, ctx) => {
    if (v === "") return null;
    const name = ENV_REF.exec(v)?.[1] ?? v;
    if (!ENV_VAR_NAME.test(name)) {
      ctx.addIssue({
        code: "custom",
        message:
          "must be the name of an env var holding the key, like LOCAL_MODEL_API_KEY or ${LOCAL_MODEL_API_KEY} (upper-case letters, digits, _); the key itself is never stored",
      });
      return z.NEVER;
    }
    return name;
  });

const endpointFields = {
  kind: z.enum(["OPENAI_COMPATIBLE"], { error: 'must be "OPENAI_COMPATIBLE"' }).default("OPENAI_COMPATIBLE"),
  baseUrl: z
    .url({ protocol: /^https?$/, hostname: /./, error: "must be an http(s) URL, e.g. http://127.0.0.1:3300/v1" })
    .max(500),
  model: z.string().trim().min(1, { error: "must not be empty" }).max(200, { error: "at most 200 characters" }),
  apiKeyEnv: apiKeyEnvSchema.nullable().default(null),
  timeoutMs: z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(100, { error: "at least 100 ms" })
    .max(600_000, { error: "at most 600000 ms (10 minutes)" }),
  maxConcurrency: z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(1, { error: "at least 1" })
    .max(1_000, { error: "at most 1000" }),
  enabled: z.boolean(),
};

export const endpointCreateSchema = z.strictObject({
  name: z.string().trim().regex(MODEL_NAME, { error: "letters, digits, _ . - (starting with a letter, up to 64)" }),
  ...endpointFields,
  timeoutMs: endpointFields.timeoutMs.default(30_000),
  maxConcurrency: endpointFields.maxConcurrency.default(8),
  enabled: endpointFields.enabled.default(true),
});
export type EndpointCreate = z.input<typeof endpointCreateSchema>;

/** The name is the endpoint's identity (leases, the onboarding file and audit entries use it): not editable. */
export const endpointUpdateSchema = z.strictObject({
  id: z.string().min(1),
  kind: endpointFields.kind.optional(),
  baseUrl: endpointFields.baseUrl.optional(),
  model: endpointFields.model.optional(),
  apiKeyEnv: apiKeyEnvSchema.nullable().optional(),
  timeoutMs: endpointFields.timeoutMs.optional(),
  maxConcurrency: endpointFields.maxConcurrency.optional(),
  enabled: endpointFields.enabled.optional(),
});
export type EndpointUpdate = z.input<typeof endpointUpdateSchema>;

const maxToolRounds = z
  .number({ error: "must be a number" })
  .int({ error: "must be a whole number" })
  .min(0, { error: "at least 0" })
  .max(20, { error: "at most 20" });

export const routeSetSchema = z.strictObject({
  /** null = the default route; else a Conversation row id. */
  conversationId: z.string().min(1).nullable(),
  modelEndpointId: z.string().min(1, { error: "pick a model endpoint" }),
  maxToolRounds: maxToolRounds.default(4),
  budgetId: z.string().min(1).nullable().default(null),
});
export type RouteSet = z.input<typeof routeSetSchema>;

export interface Change<T> {
  result: T;
  diff: FieldDiff;
}

const ENDPOINT_FIELDS = ["kind", "baseUrl", "model", "apiKeyEnv", "timeoutMs", "maxConcurrency", "enabled"] as const;

export async function listModels(db: Db | Tx) {
  const [endpoints, routes, conversations, budgets] = await Promise.all([
    db.modelEndpoint.findMany({ orderBy: { name: "asc" }, include: { _count: { select: { routes: true } } } }),
    db.route.findMany({
      orderBy: [{ isDefault: "desc" }, { createdAt: "asc" }],
      include: {
        conversation: { select: { id: true, conversationId: true, title: true } },
        modelEndpoint: { select: { id: true, name: true, enabled: true } },
        budget: { select: { id: true, scope: true, subject: true } },
      },
    }),
    // For the route picker: conversations without a route of their own first would be nicer, but
    // the list is short in practice (groups the robot is in); capped all the same.
    db.conversation.findMany({
      orderBy: [{ title: "asc" }, { conversationId: "asc" }],
      take: 500,
      select: { id: true, conversationId: true, title: true, status: true },
    }),
    db.tokenBudget.findMany({
      orderBy: [{ scope: "asc" }, { subject: "asc" }],
      select: { id: true, scope: true, subject: true },
    }),
  ]);
  const defaultRoute = routes.find((r) => r.isDefault && !r.conversationId) ?? null;
  return {
    endpoints: endpoints.map(({ _count, ...e }) => ({
      ...e,
      routeCount: _count.routes,
      isDefault: defaultRoute?.modelEndpointId === e.id,
    })),
    defaultRoute,
    conversationRoutes: routes.filter((r) => r.conversationId !== null),
    conversations,
    budgets,
  };
}

/**
 * Refuses an API key env var the secret-reference rule does not allow (e.g. DATABASE_URL) and a
 * base URL outside MODEL_BASE_URL_ALLOWLIST, one message naming both fields when both are wrong.
 */
export function checkEndpointRefs(
  fields: { apiKeyEnv?: string | null | undefined; baseUrl?: string | undefined },
  policy: SecretRefPolicy,
): void {
  const problems = [
    fields.apiKeyEnv ? secretRefProblem(fields.apiKeyEnv, "model_api_key", policy) : null,
    fields.baseUrl !== undefined ? modelBaseUrlProblem(fields.baseUrl, policy) : null,
  ];
  const [key, url] = problems;
  const lines = [...(key ? [`API key env var: ${key}`] : []), ...(url ? [`Base URL: ${url}`] : [])];
  if (lines.length > 0) throw new DomainError("BAD_REQUEST", lines.join(" "));
}

export async function createEndpoint(
  tx: Tx,
  input: EndpointCreate,
  policy: SecretRefPolicy,
): Promise<Change<{ id: string; name: string }>> {
  const data = endpointCreateSchema.parse(input);
  checkEndpointRefs(data, policy);
  if (await tx.modelEndpoint.findUnique({ where: { name: data.name }, select: { id: true } })) {
    throw new DomainError("CONFLICT", `A model endpoint named "${data.name}" already exists.`);
  }
  const created = await tx.modelEndpoint.create({ data, select: { id: true, name: true } });
  const { name: _name, ...fields } = data;
  return {
    result: created,
    diff: diffFields(null, Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null))),
  };
}

async function defaultRouteOf(tx: Tx) {
  return tx.route.findFirst({
    where: { isDefault: true, conversationId: null },
    select: { id: true, modelEndpointId: true },
  });
}

export async function updateEndpoint(
  tx: Tx,
  input: EndpointUpdate,
  policy: SecretRefPolicy,
): Promise<Change<{ id: string; name: string }>> {
  const { id, ...patch } = endpointUpdateSchema.parse(input);
  // Only what this save sets: disabling an endpoint whose stored reference is refused stays possible.
  checkEndpointRefs(patch, policy);
  const before = await tx.modelEndpoint.findUnique({ where: { id } });
  if (!before) throw new DomainError("NOT_FOUND", "No such model endpoint (it may have been deleted).");
  if (patch.enabled === false && before.enabled) {
    if ((await defaultRouteOf(tx))?.modelEndpointId === id) {
      throw new DomainError(
        "PRECONDITION_FAILED",
        `"${before.name}" serves the default route: point the default route at another endpoint before disabling it.`,
      );
    }
  }
  const current = Object.fromEntries(ENDPOINT_FIELDS.map((k) => [k, before[k]]));
  const diff = diffFields(current, {
    ...current,
    ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
  });
  if (Object.keys(diff).length > 0) await tx.modelEndpoint.update({ where: { id }, data: patch });
  return { result: { id, name: before.name }, diff };
}

export async function deleteEndpoint(tx: Tx, id: string): Promise<Change<{ id: string; name: string }>> {
  const before = await tx.modelEndpoint.findUnique({
    where: { id },
    include: { routes: { select: { isDefault: true, conversationId: true } } },
  });
  if (!before) throw new DomainError("NOT_FOUND", "No such model endpoint (it may have been deleted).");
  if (before.routes.some((r) => r.isDefault && !r.conversationId)) {
    throw new DomainError(
      "PRECONDITION_FAILED",
      `"${before.name}" serves the default route: point the default route at another endpoint before deleting it.`,
    );
  }
  const routed = before.routes.filter((r) => r.conversationId).length;
  if (routed > 0) {
    throw new DomainError(
      "PRECONDITION_FAILED",
      `"${before.name}" serves ${routed} conversation route${routed === 1 ? "" : "s"}: delete or re-route ${routed === 1 ? "it" : "them"} first.`,
    );
  }
  await tx.modelEndpoint.delete({ where: { id } });
  const fields = Object.fromEntries(ENDPOINT_FIELDS.map((k) => [k, before[k]]));
  return { result: { id, name: before.name }, diff: diffFields(fields, {}) };
}

/**
 * Creates or changes the default route (conversationId null) or a conversation's route. The
 * endpoint must exist and be enabled: the runtime skips routes to disabled endpoints.
 */
export async function setRoute(tx: Tx, input: RouteSet): Promise<Change<{ id: string; scope: string }>> {
  const data = routeSetSchema.parse(input);
  const endpoint = await tx.modelEndpoint.findUnique({
    where: { id: data.modelEndpointId },
    select: { name: true, enabled: true },
  });
  if (!endpoint) throw new DomainError("NOT_FOUND", "No such model endpoint (it may have been deleted).");
  if (!endpoint.enabled)
    throw new DomainError("PRECONDITION_FAILED", `"${endpoint.name}" is disabled: enable it before routing to it.`);
  let budget: { scope: string; subject: string } | null = null;
  if (data.budgetId) {
    budget = await tx.tokenBudget.findUnique({ where: { id: data.budgetId }, select: { scope: true, subject: true } });
    if (!budget) throw new DomainError("NOT_FOUND", "No such budget (it may have been deleted).");
  }
  let scope = "default";
  if (data.conversationId) {
    const conversation = await tx.conversation.findUnique({
      where: { id: data.conversationId },
      select: { conversationId: true },
    });
    if (!conversation) throw new DomainError("NOT_FOUND", "No such conversation.");
    scope = conversation.conversationId;
  }
  const existing = await tx.route.findFirst({
    where: data.conversationId ? { conversationId: data.conversationId } : { isDefault: true, conversationId: null },
    include: { modelEndpoint: { select: { name: true } }, budget: { select: { scope: true, subject: true } } },
  });
  const label = (b: { scope: string; subject: string } | null) =>
    b ? `${b.scope}${b.subject ? ` ${b.subject}` : ""}` : null;
  const diff = diffFields(
    existing
      ? { model: existing.modelEndpoint.name, maxToolRounds: existing.maxToolRounds, budget: label(existing.budget) }
      : null,
    { model: endpoint.name, maxToolRounds: data.maxToolRounds, budget: label(budget) },
  );
  const fields = { modelEndpointId: data.modelEndpointId, maxToolRounds: data.maxToolRounds, budgetId: data.budgetId };
  const route = existing
    ? await tx.route.update({ where: { id: existing.id }, data: fields, select: { id: true } })
    : await tx.route.create({
        data: { ...fields, isDefault: data.conversationId === null, conversationId: data.conversationId },
        select: { id: true },
      });
  return { result: { id: route.id, scope }, diff };
}

/** Deletes a conversation's route (the conversation falls back to the default route). */
export async function deleteRoute(tx: Tx, id: string): Promise<Change<{ id: string; scope: string }>> {
  const route = await tx.route.findUnique({
    where: { id },
    include: { conversation: { select: { conversationId: true } }, modelEndpoint: { select: { name: true } } },
  });
  if (!route) throw new DomainError("NOT_FOUND", "No such route (it may have been deleted).");
  if (!route.conversation) {
    throw new DomainError(
      "PRECONDITION_FAILED",
      "The default route cannot be deleted: every conversation without its own route uses it. Point it at another endpoint instead.",
    );
  }
  await tx.route.delete({ where: { id } });
  return {
    result: { id, scope: route.conversation.conversationId },
    diff: { model: { from: route.modelEndpoint.name, to: null } },
  };
}
