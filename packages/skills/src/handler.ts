import { LRUCache } from "lru-cache";
import { type z } from "zod";
import type { SkillManifest } from "./manifest.ts";

export interface SkillContext {
  /** Aborted by the caller (turn cancelled) or by runSkill when the manifest's timeout elapses. */
  signal: AbortSignal;
  /** The Skill row's settings JSON, as the console stores it. */
  settings: Record<string, unknown>;
  conversationId: string;
  userId: string;
  traceId: string;
  fetch: typeof fetch;
  now(): number;
  /** Reads a secret (e.g. an env var named in settings). Values are sent, never logged or returned. */
  getSecret?: (name: string) => string | undefined;
  /** Provided by the runtime: a group send goes through its throttled outbound path. */
  announce?: (conversationId: string, title: string, text: string) => Promise<void>;
  /** Provided by the runtime: safe mode, model route, budget left, ... */
  status?: () => Promise<Record<string, unknown>>;
}

export type SkillResult =
  | { ok: true; /** short text for the model and the user */ content: string; data?: unknown }
  | { ok: false; error: string; retryable: boolean };

export type SkillHandler<I = unknown> = (input: I, ctx: SkillContext) => Promise<SkillResult>;

/** A handler typed by its manifest's parsed input; runSkill only ever calls it with that. */
export function handlerFor<M extends SkillManifest>(
  _manifest: M,
  handler: SkillHandler<z.output<M["input"]>>,
): SkillHandler<z.output<M["input"]>> {
  return handler;
}

export const fail = (error: string, retryable = false): SkillResult => ({ ok: false, error, retryable });

interface CacheEntry {
  result: SkillResult;
  expiresAt: number;
}

/** Results of deterministic reads. Expiry uses ctx.now() so tests and replays control the clock. */
export class SkillCache {
  readonly #lru: LRUCache<string, CacheEntry>;
  constructor(max = 1_000) {
    this.#lru = new LRUCache({ max });
  }
  get(key: string, now: number): SkillResult | undefined {
    const entry = this.#lru.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.#lru.delete(key);
      return undefined;
    }
    return entry.result;
  }
  set(key: string, result: SkillResult, expiresAt: number): void {
    this.#lru.set(key, { result, expiresAt });
  }
  get size(): number {
    return this.#lru.size;
  }
}

/** Object keys sorted at every depth: `{a,b}` and `{b,a}` are one cache entry. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

export interface RunSkillOutcome {
  result: SkillResult;
  cacheHit: boolean;
  latencyMs: number;
}

export async function runSkill(
  manifest: SkillManifest,
  handler: SkillHandler<never>,
  rawInput: unknown,
  ctx: SkillContext,
  opts: { cache?: SkillCache } = {},
): Promise<RunSkillOutcome> {
  const started = performance.now();
  const done = (result: SkillResult, cacheHit = false): RunSkillOutcome => ({
    result,
    cacheHit,
    latencyMs: performance.now() - started,
  });

  const parsed = manifest.input.safeParse(rawInput);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ");
    return done(fail(`invalid input for ${manifest.key}: ${issues}`));
  }

  const cacheable = manifest.riskClass === "READ" && manifest.cacheTtlSeconds > 0 && opts.cache !== undefined;
  // Settings are part of the key: a narrowed allowlist or a new baseUrl must not be served old answers.
  const key = cacheable ? `${manifest.key}\u0000${canonicalJson(parsed.data)}\u0000${canonicalJson(ctx.settings)}` : "";
  if (cacheable) {
    const hit = opts.cache!.get(key, ctx.now());
    if (hit) return done(hit, true);
  }

  const result = await callWithTimeout(manifest, handler as SkillHandler<unknown>, parsed.data, ctx);
  if (cacheable && result.ok) opts.cache!.set(key, result, ctx.now() + manifest.cacheTtlSeconds * 1_000);
  return done(result);
}

async function callWithTimeout(
  manifest: SkillManifest,
  handler: SkillHandler<unknown>,
  input: unknown,
  ctx: SkillContext,
): Promise<SkillResult> {
  // One controller fed by the caller's signal and the timer (not AbortSignal.any, which keeps
  // every derived signal alive as long as a long-lived caller signal, e.g. a shutdown signal).
  if (ctx.signal.aborted) return fail(`${manifest.key} was cancelled`, true);
  const controller = new AbortController();
  const signal = controller.signal;
  let timedOut = false;
  const onCallerAbort = () => controller.abort();
  ctx.signal.addEventListener("abort", onCallerAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  // A handler that ignores its signal still loses the race: the caller gets its answer on time.
  const aborted = new Promise<SkillResult>((resolve) => {
    onAbort = () =>
      resolve(
        timedOut
          ? fail(`${manifest.key} timed out after ${manifest.timeoutMs} ms`, true)
          : fail(`${manifest.key} was cancelled`, true),
      );
    signal.addEventListener("abort", onAbort, { once: true });
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, manifest.timeoutMs);
  });
  try {
    return await Promise.race([
      aborted,
      handler(input, { ...ctx, signal }).catch((err: unknown) =>
        signal.aborted ? aborted : fail(`${manifest.key} failed: ${err instanceof Error ? err.message : String(err)}`),
      ),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener("abort", onAbort);
    ctx.signal.removeEventListener("abort", onCallerAbort);
  }
}
