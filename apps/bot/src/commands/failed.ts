import { isDomainError } from "@clawgate/core/errors.ts";
import { describeDbError } from "../db-checks.ts";

/**
 * How a command ends on an error, the one way. A refusal from core (DomainError: bad input, a
 * state that does not allow it; nothing was written) prints its message, then each problem on
 * its own line when it lists several, and exits 2 like bad arguments. Anything else (database
 * down, a bug) prints what failed and exits 1.
 */
export function commandFailed(command: string, error: unknown, hint?: (code: string) => string | undefined): number {
  if (isDomainError(error)) {
    const extra = hint?.(error.code);
    console.error(`clawgate ${command}: ${error.message}${extra ? ` ${extra}` : ""}`);
    if (error.problems.length > 1 || error.problems[0] !== error.message)
      for (const problem of error.problems) console.error(`  ${problem}`);
    return 2;
  }
  console.error(`clawgate ${command} failed: ${describeDbError(error)}`);
  return 1;
}
