/**
 * `clawgate dead-letters list [--all] [--limit N]` and `clawgate dead-letters retry ID`: the
 * messages and jobs the runtime gave up on (reason, trace id, time), and putting one back on
 * the queue (audited as the CLI actor). Works with the console down: it uses the database only.
 */
import { createDb } from "@clawgate/db";
import { commandFailed } from "./failed.ts";
import { envOrExit } from "./env-or-exit.ts";
import { cliActor } from "./safe-mode.ts";

export interface DeadLettersOptions {
  all?: boolean;
  limit?: string;
}

const usage = (message: string): number => {
  console.error(`clawgate dead-letters: ${message}`);
  return 2;
};

export async function deadLetters(action: string, id: string | undefined, opts: DeadLettersOptions): Promise<number> {
  if (action !== "list" && action !== "retry") return usage(`expected list or retry, got "${action}"`);
  if (action === "retry" && !id) return usage("retry needs the dead letter's id (see `clawgate dead-letters list`)");
  const limit = opts.limit === undefined ? 50 : Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200)
    return usage("--limit must be a whole number from 1 to 200");
  // Loaded on demand: the other commands do not pay for the domain package.
  const { listDeadLetters, retryDeadLetter } = await import("@clawgate/core/dead-letters.ts");
  const env = envOrExit(["DATABASE_URL", "CLAWGATE_DATA_KEYS"]);
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2, dataKeys: env.CLAWGATE_DATA_KEYS });
  try {
    if (action === "retry") {
      const letter = await retryDeadLetter(db, cliActor("dead-letters"), { id: id! });
      console.log(`Dead letter ${letter.id} retried: its message is back on the queue (trace ${letter.traceId}).`);
      return 0;
    }
    const { items, open } = await listDeadLetters(db, { status: opts.all ? "ALL" : "OPEN", limit });
    if (items.length === 0) {
      console.log(opts.all ? "No dead letters." : "No open dead letters.");
      return 0;
    }
    console.log(`${open} open dead letter${open === 1 ? "" : "s"}${opts.all ? "; all shown, newest first" : ""}:`);
    for (const d of items) {
      const retried = d.retriedAt ? ` retried ${d.retriedAt.toISOString()} by ${d.retriedBy ?? "?"}` : "";
      console.log(
        `${d.id}  ${d.createdAt.toISOString()}  ${d.source}  ${d.status}${retried}  trace ${d.traceId}  attempts ${d.attempts}`,
      );
      console.log(`    ${d.errorCode ? `[${d.errorCode}] ` : ""}${d.reason}`);
    }
    return 0;
  } catch (error) {
    return commandFailed("dead-letters", error);
  } finally {
    await db.$disconnect();
  }
}
