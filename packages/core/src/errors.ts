import type { z } from "zod";

/**
 * The one error a domain function throws when a request cannot be done as asked: bad input, a missing
 * record, a state that does not allow it. `code` says which (the console maps it to a tRPC code once,
 * in its procedure middleware; the CLI prints the message and exits 2); `message` is written for the
 * person who asked; `reason` is an optional finer machine-readable cause (e.g. "already_decided")
 * for callers that branch on it; `problems` lists every problem when input had several.
 * Anything else thrown from core is a bug or an outage, and is logged as one.
 */
export type DomainErrorCode = "BAD_REQUEST" | "NOT_FOUND" | "CONFLICT" | "FORBIDDEN" | "PRECONDITION_FAILED";

export class DomainError extends Error {
  override name = "DomainError";
  readonly problems: readonly string[];
  readonly reason: string | undefined;

  constructor(
    readonly code: DomainErrorCode,
    message: string,
    options: { reason?: string; problems?: readonly string[]; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = options.reason;
    this.problems = options.problems ?? [message];
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}

/** Parses a domain function's input; every problem in one BAD_REQUEST, each issue's message as written. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => i.message);
    throw new DomainError("BAD_REQUEST", problems.join("; "), { problems });
  }
  return parsed.data;
}
