/**
 * One chat completion with our own retries, timeouts and circuit breaker. The SDK's retries are
 * off (maxRetries 0) so the policy is ours: only 429 and 5xx are retried, at most twice, with
 * jittered back-off; a refused or unreachable connection, a timeout or another 4xx fails at once
 * (retrying a timeout would multiply the user's wait).
 *
 * Timeouts: connect (MODEL_CONNECT_TIMEOUT_MS, undici's connect timeout on a shared dispatcher);
 * first byte: the SDK's per-request `timeout` (it runs until the response headers arrive, which
 * for a non-streamed completion is the whole answer) = min(the endpoint's `timeoutMs`, the time
 * left in the turn); total: the turn's deadline signal, which also stops reading a body.
 *
 * Breaker: one per endpoint name, process-local (`modelBreakers`). Connection errors, timeouts,
 * 429 and 5xx count; other 4xx (a bad request, a wrong key) and our own cancellations do not.
 * While open, calls fail at once with ModelUnavailableError (the user gets the fallback reply).
 */
import { BreakerOpenError, BreakerRegistry, traceparent } from "@clawgate/skills";
import OpenAI from "openai";
import { Agent } from "undici";
import type { ModelRoute } from "./catalog.ts";

export const MODEL_RETRIES = 2;
/** Less time than this left in the turn: not worth a model call. */
export const MIN_CALL_MS = 250;

export class ModelUnavailableError extends Error {
  override name = "ModelUnavailableError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The abort reason of a turn's signal when its deadline passed. */
export class TurnDeadlineError extends Error {
  override name = "TurnDeadlineError";
  constructor() {
    super("the turn's deadline was reached");
  }
}

export const pastDeadline = (signal: AbortSignal | undefined) =>
  signal?.aborted === true && signal.reason instanceof TurnDeadlineError;

export const retryable = (error: unknown) =>
  error instanceof OpenAI.APIError && error.status !== undefined && (error.status === 429 || error.status >= 500);

/** A call the turn's deadline cut short: the endpoint did not answer in the time we could give it. */
class DeadlineTimeout extends Error {
  override name = "DeadlineTimeout";
}

/** Does this error mean the endpoint is unhealthy? (APIUserAbortError, a cancellation, is no APIConnectionError.) */
export const endpointFailure = (error: unknown) =>
  error instanceof OpenAI.APIConnectionError || error instanceof DeadlineTimeout || retryable(error);

export const modelBreakers = new BreakerRegistry("model", endpointFailure);

/** 250 ms, 500 ms, ... plus up to as much again of jitter, so replicas do not retry in step. */
export const backoffMs = (attempt: number) => {
  const base = 250 * 2 ** attempt;
  return base + Math.floor(Math.random() * base);
};

const dispatchers = new Map<number, Agent>();
/** One undici dispatcher per connect timeout, shared by every model client (keep-alive pool). */
export function modelDispatcher(connectTimeoutMs: number): Agent {
  let agent = dispatchers.get(connectTimeoutMs);
  if (!agent) dispatchers.set(connectTimeoutMs, (agent = new Agent({ connect: { timeout: connectTimeoutMs } })));
  return agent;
}

/**
 * Throws at once while the endpoint's breaker refuses calls, or when its configuration is refused
 * (a key naming one of Clawgate's own settings: nothing is sent), before a concurrency slot is taken.
 */
export function assertModelAvailable(route: ModelRoute): void {
  if (route.refused) throw refusedRoute(route);
  if (modelBreakers.refusing(route.endpointName)) throw breakerOpen(route);
}

const refusedRoute = (route: ModelRoute) =>
  new ModelUnavailableError(`${route.endpointName}: not called: ${route.refused}`.slice(0, 400));

const breakerOpen = (route: ModelRoute) =>
  new ModelUnavailableError(`${route.endpointName}: circuit breaker open after repeated failures`);

export async function complete(
  route: ModelRoute,
  body: Omit<OpenAI.ChatCompletionCreateParamsNonStreaming, "model">,
  opts: {
    signal?: AbortSignal;
    sleep?: (ms: number) => Promise<void>;
    deadlineAt?: number;
    now?: () => number;
    /** The message's trace id: sent as W3C `traceparent` (a new span per attempt). */
    traceId?: string;
  } = {},
): Promise<OpenAI.ChatCompletion> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const deadlineAt = opts.deadlineAt ?? Number.POSITIVE_INFINITY;
  if (route.refused) throw refusedRoute(route);
  for (let attempt = 0; ; attempt++) {
    const left = deadlineAt - now();
    if (left < MIN_CALL_MS) throw new ModelUnavailableError(`${route.endpointName}: the turn's deadline was reached`);
    const timeout = Math.max(1, Math.floor(Math.min(route.timeoutMs, left)));
    try {
      return await modelBreakers.run(route.endpointName, async () => {
        try {
          return await route.client.chat.completions.create(
            { ...body, model: route.model },
            {
              timeout,
              ...(opts.signal ? { signal: opts.signal } : {}),
              ...(opts.traceId ? { headers: { traceparent: traceparent(opts.traceId) } } : {}),
            },
          );
        } catch (error) {
          // The deadline's abort and the SDK's timeout race; either way it is a timeout (a caller's cancel is not).
          throw pastDeadline(opts.signal) ? new DeadlineTimeout("the turn's deadline was reached") : error;
        }
      });
    } catch (error) {
      if (error instanceof BreakerOpenError) throw breakerOpen(route);
      if (retryable(error) && attempt < MODEL_RETRIES) {
        const wait = backoffMs(attempt);
        // A retry that could not finish before the deadline only delays the fallback reply.
        if (now() + wait + MIN_CALL_MS <= deadlineAt) {
          await sleep(wait);
          continue;
        }
      }
      const status = error instanceof OpenAI.APIError ? error.status : undefined;
      const what = pastDeadline(opts.signal)
        ? "the turn's deadline was reached"
        : error instanceof Error
          ? `${error.name}: ${error.message}`
          : String(error);
      throw new ModelUnavailableError(`${route.endpointName}: ${what}`.slice(0, 300), status);
    }
  }
}
