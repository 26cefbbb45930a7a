/**
 * The agent as the worker sees it: one call per allowed message. It owns what is shared by all
 * turns of the process: the skill cache and the per-revision catalog of routes and settings.
 */
import type { PolicySnapshot } from "@clawgate/core";
import type { Db } from "@clawgate/db";
import { SkillCache } from "@clawgate/skills";
import { catalogCache } from "./catalog.ts";
import { runTurn, type TokenUsage, type TurnResult } from "./run-turn.ts";
import type { ModelSlots } from "./tool-call.ts";

export { MODEL_UNAVAILABLE_REPLY } from "./run-turn.ts";

export const NO_MODEL_REPLY = "No model is configured for this conversation yet. An admin can add one (clawgate onboard, or the console).";

export interface TurnRequest {
  text: string;
  conversationId: string;
  userId: string;
  traceId: string;
  inboundId: string | null;
  snapshot: PolicySnapshot;
  /** The live policy, for deciding each tool call on the newest snapshot. */
  latest?: () => PolicySnapshot | null;
  signal?: AbortSignal;
  /** Called once when the turn runs long, so the user hears "working on it" before the answer. */
  onSlow?: () => Promise<void>;
}

export type AgentReply = TurnResult | { text: string; outcome: "no_route"; toolCalls: 0; approvals: []; calls: []; usage: TokenUsage };

export interface Agent {
  reply(request: TurnRequest): Promise<AgentReply>;
}

export type { ModelSlots } from "./tool-call.ts";
export type { TokenUsage } from "./run-turn.ts";

export function createAgent(opts: { db: Db; fetch?: typeof fetch; now?: () => number; modelSlots?: ModelSlots }): Agent {
  const catalog = catalogCache(opts.db);
  const cache = new SkillCache();
  const now = opts.now ?? Date.now;
  return {
    async reply(req) {
      const current = await catalog(req.snapshot.revision);
      const route = current.route(req.conversationId);
      if (!route) return { text: NO_MODEL_REPLY, outcome: "no_route", toolCalls: 0, approvals: [], calls: [], usage: { promptTokens: 0, completionTokens: 0 } };
      const context = {
        db: opts.db,
        cache,
        snapshot: req.snapshot,
        ...(req.latest ? { latest: req.latest } : {}),
        catalog: current,
        route,
        conversationId: req.conversationId,
        userId: req.userId,
        traceId: req.traceId,
        inboundId: req.inboundId,
        offered: [],
        signal: req.signal ?? new AbortController().signal,
        now,
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
        ...(opts.modelSlots ? { modelSlots: opts.modelSlots } : {}),
      };
      return runTurn(context, req.text);
    },
  };
}
