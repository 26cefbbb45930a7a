/**
 * What a turn needs from the database besides the policy snapshot: model routes with their
 * endpoints and max context, and each skill's settings. Loaded once per config revision (every change to them
 * bumps it) and shared by all turns, so no tool decision and no turn on a steady config reads
 * the database for them.
 */
import { modelBaseUrlProblem, type SecretRefPolicy } from "@clawgate/core";
import { serverConfig } from "@clawgate/core/tools/mcp.ts";
import type { Db } from "@clawgate/db";
import OpenAI from "openai";
import { readEnvVar } from "../env.ts";
import { readSecretRef, runtimeSecretRefs } from "../secret-refs.ts";
import { modelDispatcher } from "./model.ts";
import { outsideSkill, type OutsideSkillRow } from "./outside-tools.ts";
import { BUILTIN_TOOLBOX, Toolbox, type Skill } from "./tools.ts";

/** Max context when neither the route's budget nor the DEFAULT budget sets one. */
export const DEFAULT_MAX_CONTEXT_TOKENS = 8_192;

export interface ModelRoute {
  /** "default" or the DingTalk conversationId the route belongs to. */
  scope: string;
  endpointName: string;
  model: string;
  maxToolRounds: number;
  timeoutMs: number;
  /** The endpoint's concurrency cap, shared by all replicas (see ModelSlots). */
  maxConcurrency: number;
  /** The prompt and the answer must fit in this: the route's budget, else the DEFAULT budget's, else 8,192. */
  maxContextTokens: number;
  client: OpenAI;
  /**
   * Why this endpoint may not be called (its key names one of Clawgate's own settings or is off
   * SECRET_ENV_ALLOWLIST, or its host is off MODEL_BASE_URL_ALLOWLIST): no request is ever sent.
   */
  refused?: string;
}

export interface Catalog {
  revision: number;
  route(conversationId: string): ModelRoute | undefined;
  settings(skillKey: string): Record<string, unknown>;
  /** The secret-reference policy the routes were built with; skills read their secrets under it. */
  secretRefs: SecretRefPolicy;
  /** Every skill this runtime can run at this revision: built-in, and approved outside tools. */
  toolbox: Toolbox;
}

type RouteRow = {
  isDefault: boolean;
  maxToolRounds: number;
  conversation: { conversationId: string } | null;
  budget: { maxContextTokens: number | null } | null;
  modelEndpoint: {
    name: string;
    baseUrl: string;
    model: string;
    apiKeyEnv: string | null;
    timeoutMs: number;
    maxConcurrency: number;
    enabled: boolean;
  };
};

export interface CatalogOptions {
  env?: (name: string) => string | undefined;
  /** The TCP connect timeout of model calls (MODEL_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  /** Which env vars a key may name and which hosts an endpoint may point at. */
  secretRefs?: SecretRefPolicy;
}

function toRoute(row: RouteRow, defaultMaxContext: number, opts: Required<CatalogOptions>): ModelRoute {
  const e = row.modelEndpoint;
  // A refused reference is never read, and the route refuses every call (see `refused`).
  const key = e.apiKeyEnv
    ? readSecretRef(e.apiKeyEnv, "model_api_key", opts.secretRefs, opts.env)
    : ({ ok: true, value: undefined } as const);
  const hostProblem = modelBaseUrlProblem(e.baseUrl, opts.secretRefs);
  const refused = !key.ok ? `API key env var: ${key.problem}` : hostProblem ? `base URL: ${hostProblem}` : undefined;
  // Local servers often take no key, but the SDK insists on one (and would read OPENAI_API_KEY).
  const apiKey = (key.ok ? key.value : undefined) ?? "not-set";
  return {
    scope: row.conversation?.conversationId ?? "default",
    endpointName: e.name,
    model: e.model,
    maxToolRounds: row.maxToolRounds,
    timeoutMs: e.timeoutMs,
    maxConcurrency: e.maxConcurrency,
    maxContextTokens: row.budget?.maxContextTokens ?? defaultMaxContext,
    client: new OpenAI({
      baseURL: e.baseUrl,
      apiKey,
      timeout: e.timeoutMs,
      maxRetries: 0,
      fetchOptions: { dispatcher: modelDispatcher(opts.connectTimeoutMs) } as OpenAI["fetchOptions"],
    }),
    ...(refused ? { refused } : {}),
  };
}

export async function loadCatalog(db: Db, revision: number, options: CatalogOptions = {}): Promise<Catalog> {
  const opts = {
    env: options.env ?? readEnvVar,
    connectTimeoutMs: options.connectTimeoutMs ?? 3_000,
    secretRefs: options.secretRefs ?? runtimeSecretRefs(),
  };
  const [routes, skills, defaultBudget] = await Promise.all([
    db.route.findMany({
      select: {
        isDefault: true,
        maxToolRounds: true,
        conversation: { select: { conversationId: true } },
        budget: { select: { maxContextTokens: true } },
        modelEndpoint: {
          select: {
            name: true,
            baseUrl: true,
            model: true,
            apiKeyEnv: true,
            timeoutMs: true,
            maxConcurrency: true,
            enabled: true,
          },
        },
      },
    }),
    db.skill.findMany({
      where: { retiredAt: null },
      select: {
        key: true,
        settings: true,
        source: true,
        riskClass: true,
        requiresApproval: true,
        definition: true,
        approvedHash: true,
        toolName: true,
        timeoutMs: true,
        untrustedOutput: true,
        outputMaxChars: true,
        maskPii: true,
        mcpServer: { select: { name: true, url: true, headers: true, timeoutMs: true, maxConcurrency: true } },
      },
    }),
    db.tokenBudget.findUnique({
      where: { scope_subject: { scope: "DEFAULT", subject: "" } },
      select: { maxContextTokens: true },
    }),
  ]);
  const defaultMaxContext = defaultBudget?.maxContextTokens ?? DEFAULT_MAX_CONTEXT_TOKENS;
  const toRouteHere = (r: RouteRow) => toRoute(r, defaultMaxContext, opts);
  const usable = routes.filter((r) => r.modelEndpoint.enabled);
  const byConversation = new Map(
    usable.flatMap((r) => (r.conversation ? [[r.conversation.conversationId, toRouteHere(r)] as const] : [])),
  );
  const fallback = usable.find((r) => r.isDefault && !r.conversation);
  const defaultRoute = fallback ? toRouteHere(fallback) : undefined;
  const settings = new Map(
    skills.map((s) => [
      s.key,
      s.settings && typeof s.settings === "object" && !Array.isArray(s.settings)
        ? (s.settings as Record<string, unknown>)
        : {},
    ]),
  );
  return {
    revision,
    route: (conversationId) => byConversation.get(conversationId) ?? defaultRoute,
    settings: (key) => settings.get(key) ?? {},
    secretRefs: opts.secretRefs,
    toolbox: toolboxOf(skills),
  };
}

/** The catalog for `revision`: reloaded when the revision moves, one load shared by concurrent turns. */
export function catalogCache(db: Db, load = loadCatalog) {
  let current: { revision: number; catalog: Promise<Catalog> } | undefined;
  return (revision: number): Promise<Catalog> => {
    if (current?.revision !== revision) {
      const entry = { revision, catalog: load(db, revision) };
      // A failed load must not stick: the next turn tries again.
      entry.catalog.catch(() => {
        if (current === entry) current = undefined;
      });
      current = entry;
    }
    return current.catalog;
  };
}

type SkillRow = OutsideSkillRow & {
  key: string;
  source: "BUILTIN" | "MCP" | "HTTP";
  untrustedOutput: boolean;
  outputMaxChars: number | null;
  maskPii: boolean;
};

/** Built-in skills with their rows' output settings, plus the outside tools an admin approved. */
function toolboxOf(rows: readonly SkillRow[]): Toolbox {
  const skills: Skill[] = [];
  for (const row of rows) {
    const output = { untrusted: row.untrustedOutput, maxChars: row.outputMaxChars, maskPii: row.maskPii };
    const builtin = BUILTIN_TOOLBOX.get(row.key);
    if (row.source === "BUILTIN") {
      if (builtin) skills.push({ ...builtin, output });
      continue;
    }
    const outside = row.approvedHash ? outsideSkill(row, serverConfig) : undefined;
    if (outside) skills.push({ ...outside, output });
  }
  // Built-in skills without a row yet (bootstrap has not run) are still known, as shipped.
  for (const s of BUILTIN_TOOLBOX.skills.values())
    if (!skills.some((x) => x.manifest.key === s.manifest.key)) skills.push(s);
  return new Toolbox(
    skills,
    rows.map((r) => r.key),
  );
}
