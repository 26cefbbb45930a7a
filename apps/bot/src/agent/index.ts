/**
 * The agent as the worker sees it: one call per allowed message. It owns what is shared by all
 * turns of the process: the skill cache and the per-revision catalog of routes and settings.
 * Each turn runs against a deadline (AGENT_TURN_DEADLINE_MS): every model call gets at most the
 * time left, and when it runs out the user gets the fallback reply, well within DingTalk
 * users' patience even when an endpoint's own timeout is longer. A turn still running after
 * AGENT_WORKING_ON_IT_MS calls `onSlow` once (the "working on it" message).
 */
import { secretRefPolicy, type PolicySnapshot, type SecretRefPolicy } from "@clawgate/core";
import { dataKeysOf, type Db } from "@clawgate/db";
import { internalApiBreakers, mcpBreakers, SkillCache, type BreakerOptions } from "@clawgate/skills";
import type pg from "pg";
import { loadEnv, type Env } from "../env.ts";
import { SECRET_REF_ENV_KEYS } from "../secret-refs.ts";
import { createLogger, type Logger } from "../logger.ts";
import { catalogCache, loadCatalog } from "./catalog.ts";
import { recordBreakerIncidents } from "./degraded.ts";
import { loadMemory, type StoredMemory } from "./memory.ts";
import { loadSteps } from "./steps.ts";
import { modelBreakers, TurnDeadlineError } from "./model.ts";
import { runTurn, type TokenUsage, type TurnResult } from "./run-turn.ts";
import { pgSql, prismaSql } from "./sql.ts";
import type { ModelSlots, TurnContext } from "./tool-call.ts";

export { MODEL_UNAVAILABLE_REPLY } from "./run-turn.ts";
export { MEMORY_COLUMNS, storedMemory, type MemoryRow, type StoredMemory } from "./memory.ts";

export const NO_MODEL_REPLY =
  "No model is configured for this conversation yet. An admin can add one (clawgate onboard, or the console).";

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
  /**
   * The conversation's memory when the caller already read it (the worker reads it with its
   * conversation upsert, `upsertConversation`); otherwise the turn loads it.
   */
  memory?: StoredMemory;
  /**
   * The message's job ran before (the turn may have completed steps): its stored steps are
   * loaded and replayed instead of calling the model or tools again.
   */
  resume?: boolean;
}

export type AgentReply =
  | TurnResult
  | {
      text: string;
      outcome: "no_route";
      toolCalls: 0;
      approvals: [];
      calls: [];
      usage: TokenUsage;
      remembered?: undefined;
    };

export interface Agent {
  reply(request: TurnRequest): Promise<AgentReply>;
}

export type { ModelSlots } from "./tool-call.ts";
export type { TokenUsage } from "./run-turn.ts";

export interface AgentSettings {
  /** The whole turn: model calls, tool calls, retries. */
  turnDeadlineMs: number;
  /** When a turn still running calls `onSlow`. */
  workingOnItMs: number;
  /** TCP connect timeout of model calls. */
  connectTimeoutMs: number;
  /** Model endpoint, internal API and MCP server circuit breakers (process-wide). */
  breaker: BreakerOptions;
  /** Which env vars configuration may name as secrets, which hosts a model may be at. */
  secretRefs: SecretRefPolicy;
}

export const AGENT_ENV_KEYS = [
  "AGENT_TURN_DEADLINE_MS",
  "AGENT_WORKING_ON_IT_MS",
  "MODEL_CONNECT_TIMEOUT_MS",
  "BREAKER_FAILURES",
  "BREAKER_HALF_OPEN_MS",
  ...SECRET_REF_ENV_KEYS,
] as const;

export function agentSettings(env: Pick<Env, (typeof AGENT_ENV_KEYS)[number]>): AgentSettings {
  return {
    turnDeadlineMs: env.AGENT_TURN_DEADLINE_MS,
    workingOnItMs: env.AGENT_WORKING_ON_IT_MS,
    connectTimeoutMs: env.MODEL_CONNECT_TIMEOUT_MS,
    breaker: { failures: env.BREAKER_FAILURES, halfOpenAfterMs: env.BREAKER_HALF_OPEN_MS },
    secretRefs: secretRefPolicy(env),
  };
}

/** The caller's signal, also aborted (with a TurnDeadlineError) when the deadline passes. */
function turnSignal(ms: number, caller: AbortSignal | undefined) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TurnDeadlineError()), ms);
  // Forwarded by hand, not AbortSignal.any: that keeps every turn's signal alive as long as a long-lived caller signal.
  const onAbort = () => controller.abort(caller?.reason);
  if (caller?.aborted) onAbort();
  else caller?.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      caller?.removeEventListener("abort", onAbort);
    },
  };
}

/** How long a finished turn waits for its "working on it" send still in flight (so it goes first). */
const SLOW_SEND_WAIT_MS = 2_000;

export interface AgentOptions {
  db: Db;
  /**
   * The per-turn statements (memory, SkillInvocation rows) run on this pool (the worker's);
   * without one they go through the Prisma client's raw queries, which costs more CPU per turn.
   */
  pool?: pg.Pool;
  fetch?: typeof fetch;
  now?: () => number;
  modelSlots?: ModelSlots;
  /** `group.announce`'s group send (worker/announce.ts); without it the skill answers that it cannot post. */
  announce?: TurnContext["announce"];
  settings?: Partial<AgentSettings>;
  /** Each model call, for the runtime's metrics. */
  observeModelCall?: TurnContext["observeModelCall"];
  /** Where breaker incidents that could not be recorded are reported (see degraded.ts). */
  log?: Pick<Logger, "warn" | "info">;
}

/** The env schema's defaults (18 s, 4 s, 3 s, 5 failures / 15 s, no allowlist): what an unset env gives. */
export const DEFAULT_AGENT_SETTINGS: AgentSettings = agentSettings(loadEnv({}, AGENT_ENV_KEYS));

export function createAgent(opts: AgentOptions): Agent {
  // `serve` passes the settings from its env (agentSettings(env)); what is not given is the default.
  const settings: AgentSettings = { ...DEFAULT_AGENT_SETTINGS, ...opts.settings };
  modelBreakers.configure(settings.breaker);
  internalApiBreakers.configure(settings.breaker);
  mcpBreakers.configure(settings.breaker);
  // An opened breaker is recorded against an incident, and ended when it closes.
  recordBreakerIncidents(opts.db, opts.log ?? createLogger("warn"));
  const catalog = catalogCache(opts.db, (db, revision) =>
    loadCatalog(db, revision, { connectTimeoutMs: settings.connectTimeoutMs, secretRefs: settings.secretRefs }),
  );
  const cache = new SkillCache();
  const now = opts.now ?? Date.now;
  const sql = opts.pool ? pgSql(opts.pool, dataKeysOf(opts.db)) : prismaSql(opts.db);

  async function turn(req: TurnRequest, signal: AbortSignal, deadlineAt: number): Promise<AgentReply> {
    const current = await catalog(req.snapshot.revision);
    const route = current.route(req.conversationId);
    if (!route)
      return {
        text: NO_MODEL_REPLY,
        outcome: "no_route",
        toolCalls: 0,
        approvals: [],
        calls: [],
        usage: { promptTokens: 0, completionTokens: 0 },
      };
    const memory = req.memory ?? (await loadMemory(sql, req.conversationId));
    const resume = req.resume && req.inboundId ? await loadSteps(sql, req.inboundId) : undefined;
    const context = {
      db: opts.db,
      sql,
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
      signal,
      deadlineAt,
      now,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.modelSlots ? { modelSlots: opts.modelSlots } : {}),
      ...(opts.announce ? { announce: opts.announce } : {}),
      ...(opts.observeModelCall ? { observeModelCall: opts.observeModelCall } : {}),
      ...(resume ? { resume } : {}),
    };
    return runTurn(context, req.text, memory);
  }

  return {
    async reply(req) {
      const deadline = turnSignal(settings.turnDeadlineMs, req.signal);
      const deadlineAt = now() + settings.turnDeadlineMs;
      let finished = false;
      let slow: Promise<void> | undefined;
      const onSlow = req.onSlow;
      const slowTimer = onSlow
        ? setTimeout(() => {
            // A failed "working on it" must not fail the turn: the answer still goes out.
            if (!finished) slow = onSlow().catch(() => undefined);
          }, settings.workingOnItMs)
        : undefined;
      try {
        return await turn(req, deadline.signal, deadlineAt);
      } finally {
        finished = true;
        clearTimeout(slowTimer);
        deadline.dispose();
        if (slow) await Promise.race([slow, new Promise((r) => setTimeout(r, SLOW_SEND_WAIT_MS).unref())]);
      }
    },
  };
}
