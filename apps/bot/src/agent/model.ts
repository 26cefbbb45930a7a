/**
 * One chat completion with our own retries: the SDK's are off (maxRetries 0) so the policy is
 * ours. Only 429 and 5xx are retried, at most twice, with jittered back-off; a refused or
 * unreachable connection, a timeout or another 4xx fails at once (retrying a timeout would
 * multiply the user's wait).
 */
import OpenAI from "openai";
import type { ModelRoute } from "./catalog.ts";

export const MODEL_RETRIES = 2;

export class ModelUnavailableError extends Error {
  override name = "ModelUnavailableError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export const retryable = (error: unknown) =>
  error instanceof OpenAI.APIError && error.status !== undefined && (error.status === 429 || error.status >= 500);

/** 250 ms, 500 ms, ... plus up to as much again of jitter, so replicas do not retry in step. */
export const backoffMs = (attempt: number) => {
  const base = 250 * 2 ** attempt;
  return base + Math.floor(Math.random() * base);
};

export async function complete(
  route: ModelRoute,
  body: Omit<OpenAI.ChatCompletionCreateParamsNonStreaming, "model">,
  opts: { signal?: AbortSignal; sleep?: (ms: number) => Promise<void> } = {},
): Promise<OpenAI.ChatCompletion> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      return await route.client.chat.completions.create({ ...body, model: route.model }, opts.signal ? { signal: opts.signal } : {});
    } catch (error) {
      if (retryable(error) && attempt < MODEL_RETRIES) {
        await sleep(backoffMs(attempt));
        continue;
      }
      const status = error instanceof OpenAI.APIError ? error.status : undefined;
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new ModelUnavailableError(`${route.endpointName}: ${what}`.slice(0, 300), status);
    }
  }
}
