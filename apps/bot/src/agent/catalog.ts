/**
 * What a turn needs from the database besides the policy snapshot: model routes with their
 * endpoints, and each skill's settings. Loaded once per config revision (every change to them
 * bumps it) and shared by all turns, so no tool decision and no turn on a steady config reads
 * the database for them.
 */
import type { Db } from "@clawgate/db";
import OpenAI from "openai";
import { readEnvVar } from "../env.ts";

export interface ModelRoute {
  /** "default" or the DingTalk conversationId the route belongs to. */
  scope: string;
  endpointName: string;
  model: string;
  maxToolRounds: number;
  timeoutMs: number;
  /** The endpoint's concurrency cap, shared by all replicas (see ModelSlots). */
  maxConcurrency: number;
  client: OpenAI;
}

export interface Catalog {
  revision: number;
  route(conversationId: string): ModelRoute | undefined;
  settings(skillKey: string): Record<string, unknown>;
}

type RouteRow = {
  isDefault: boolean;
  maxToolRounds: number;
  conversation: { conversationId: string } | null;
  modelEndpoint: { name: string; baseUrl: string; model: string; apiKeyEnv: string | null; timeoutMs: number; maxConcurrency: number; enabled: boolean };
};

function toRoute(row: RouteRow, env: (name: string) => string | undefined): ModelRoute {
  const e = row.modelEndpoint;
  // Local servers often take no key, but the SDK insists on one (and would read OPENAI_API_KEY).
  const apiKey = (e.apiKeyEnv ? env(e.apiKeyEnv) : undefined) ?? "not-set";
  return {
    scope: row.conversation?.conversationId ?? "default",
    endpointName: e.name,
    model: e.model,
    maxToolRounds: row.maxToolRounds,
    timeoutMs: e.timeoutMs,
    maxConcurrency: e.maxConcurrency,
    client: new OpenAI({ baseURL: e.baseUrl, apiKey, timeout: e.timeoutMs, maxRetries: 0 }),
  };
}

export async function loadCatalog(db: Db, revision: number, env: (name: string) => string | undefined = readEnvVar): Promise<Catalog> {
  const [routes, skills] = await Promise.all([
    db.route.findMany({
      select: {
        isDefault: true,
        maxToolRounds: true,
        conversation: { select: { conversationId: true } },
        modelEndpoint: { select: { name: true, baseUrl: true, model: true, apiKeyEnv: true, timeoutMs: true, maxConcurrency: true, enabled: true } },
      },
    }),
    db.skill.findMany({ select: { key: true, settings: true } }),
  ]);
  const usable = routes.filter((r) => r.modelEndpoint.enabled);
  const byConversation = new Map(usable.flatMap((r) => (r.conversation ? [[r.conversation.conversationId, toRoute(r, env)] as const] : [])));
  const fallback = usable.find((r) => r.isDefault && !r.conversation);
  const defaultRoute = fallback ? toRoute(fallback, env) : undefined;
  const settings = new Map(
    skills.map((s) => [s.key, s.settings && typeof s.settings === "object" && !Array.isArray(s.settings) ? (s.settings as Record<string, unknown>) : {}]),
  );
  return {
    revision,
    route: (conversationId) => byConversation.get(conversationId) ?? defaultRoute,
    settings: (key) => settings.get(key) ?? {},
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
