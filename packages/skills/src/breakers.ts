/**
 * Circuit breakers by name (cockatiel), process-local: one per model endpoint (apps/bot) and one
 * per internal API base URL (handlers/internal-api.ts). After `failures` consecutive failures
 * that mean "the other side is unhealthy" a breaker opens and refuses calls at once; after
 * `halfOpenAfterMs` one trial call goes through, and its success closes the breaker again.
 */
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
} from "cockatiel";

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failures: number;
  /** How long an open breaker refuses calls before it lets one trial call through. */
  halfOpenAfterMs: number;
}

export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = { failures: 5, halfOpenAfterMs: 15_000 };

/** Thrown instead of calling while the breaker refuses calls. */
export class BreakerOpenError extends Error {
  override name = "BreakerOpenError";
  constructor(readonly breaker: string) {
    super(`circuit breaker ${breaker} is open after repeated failures`);
  }
}

/** Told when a breaker opens (`open`: true) and when a successful trial call closes it again. */
export type BreakerListener = (name: string, open: boolean) => void;

interface Entry {
  policy: CircuitBreakerPolicy;
  openedAt: number;
}

export class BreakerRegistry {
  #options: BreakerOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<BreakerListener>();

  /** `isFailure`: which errors count against the other side (others pass through uncounted). */
  constructor(
    readonly prefix: string,
    private readonly isFailure: (error: unknown) => boolean,
    options: BreakerOptions = DEFAULT_BREAKER_OPTIONS,
  ) {
    this.#options = options;
  }

  /** New options apply to fresh breakers: a change forgets every breaker's state. */
  configure(options: BreakerOptions): void {
    if (options.failures === this.#options.failures && options.halfOpenAfterMs === this.#options.halfOpenAfterMs)
      return;
    this.#options = options;
    this.#entries.clear();
  }

  /** Forgets every breaker's state (tests). */
  reset(): void {
    this.#entries.clear();
  }

  #entry(key: string): Entry {
    let entry = this.#entries.get(key);
    if (!entry) {
      const policy = circuitBreaker(handleWhen(this.isFailure), {
        halfOpenAfter: this.#options.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.#options.failures),
      });
      const created: Entry = { policy, openedAt: 0 };
      policy.onBreak(() => {
        created.openedAt = Date.now();
        this.#emit(key, true);
      });
      policy.onReset(() => this.#emit(key, false));
      this.#entries.set(key, (entry = created));
    }
    return entry;
  }

  /** Calls `listener` on every open and close from now on; returns the unsubscribe. */
  onChange(listener: BreakerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(key: string, open: boolean): void {
    for (const listener of this.#listeners) {
      try {
        listener(`${this.prefix}:${key}`, open);
      } catch {
        // A listener's failure is its own (it logs); the breaker and its caller go on.
      }
    }
  }

  /** `refusing` by the breaker's full name (`<prefix>:<key>`); false for another registry's name. */
  refusingName(name: string): boolean {
    return name.startsWith(`${this.prefix}:`) && this.refusing(name.slice(this.prefix.length + 1));
  }

  /**
   * True while a call would be refused at once: open and not yet due for a trial, or a trial
   * call in flight (cockatiel would make the caller wait for the trial; we answer at once).
   */
  refusing(key: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    const state = entry.policy.state;
    if (state === CircuitState.Open) return Date.now() - entry.openedAt < this.#options.halfOpenAfterMs;
    return state === CircuitState.HalfOpen || state === CircuitState.Isolated;
  }

  /** Runs `fn` through `key`'s breaker; throws BreakerOpenError without calling it while open. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (this.refusing(key)) throw new BreakerOpenError(`${this.prefix}:${key}`);
    try {
      return await this.#entry(key).policy.execute(fn);
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw new BreakerOpenError(`${this.prefix}:${key}`);
      throw error;
    }
  }

  /** Each breaker's name and whether it is open (from its break until a trial call succeeds). */
  states(): { name: string; open: boolean }[] {
    return [...this.#entries].map(([key, entry]) => ({
      name: `${this.prefix}:${key}`,
      open: entry.policy.state !== CircuitState.Closed,
    }));
  }
}
