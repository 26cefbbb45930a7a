/**
 * `clawgate keys new --id ID` (a new ring entry to append to CLAWGATE_DATA_KEYS), `keys status`
 * (stored values per key id and column) and `keys rotate` (re-encrypt everything not under the
 * newest key: online, in batches, resumable, audited as the CLI actor). README: Encryption at rest.
 */
import { createDb, newDataKey } from "@clawgate/db";
import { createPgPool } from "../db-pool.ts";
import { envOrExit } from "./env-or-exit.ts";
import { commandFailed } from "./failed.ts";
import { cliActor } from "./safe-mode.ts";

export interface KeysOptions {
  id?: string;
  batch?: string;
  pauseMs?: string;
}

const usage = (message: string): number => {
  console.error(`clawgate keys: ${message}`);
  return 2;
};

export async function keys(action: string, opts: KeysOptions): Promise<number> {
  if (action === "new") {
    if (!opts.id) return usage("new needs --id (1-32 of A-Z a-z 0-9 _ -), e.g. --id k2");
    try {
      console.log(newDataKey(opts.id));
    } catch (error) {
      return usage((error as Error).message);
    }
    console.error(
      "Append it to CLAWGATE_DATA_KEYS (comma-separated, newest last) everywhere, restart, then `clawgate keys rotate`.",
    );
    return 0;
  }
  if (action !== "status" && action !== "rotate") return usage(`expected new, status or rotate, got "${action}"`);
  const batch = opts.batch === undefined ? 500 : Number(opts.batch);
  const pauseMs = opts.pauseMs === undefined ? 0 : Number(opts.pauseMs);
  if (!Number.isInteger(batch) || batch < 1 || batch > 10_000)
    return usage("--batch must be a whole number from 1 to 10000");
  if (!Number.isInteger(pauseMs) || pauseMs < 0 || pauseMs > 60_000) return usage("--pause-ms must be 0 to 60000");

  const { dataKeyStatus, missingDataKeys, rotateDataKeys } = await import("@clawgate/core/data-keys.ts");
  const env = envOrExit(["DATABASE_URL", "CLAWGATE_DATA_KEYS"]);
  const ring = env.CLAWGATE_DATA_KEYS;
  if (action === "rotate" && !ring) return usage("CLAWGATE_DATA_KEYS is not set: there is no key to rotate to");
  // The stored ciphertext is read on a plain pool (the Prisma client would decrypt it).
  const pool = createPgPool(env.DATABASE_URL, { applicationName: "clawgate-keys", max: 2, statementTimeoutMs: 60_000 });
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2, dataKeys: ring });
  try {
    if (action === "status") {
      const counts = await dataKeyStatus(pool);
      console.log(`Ring: ${ring ? `${ring.ids.join(", ")} (newest: ${ring.current})` : "CLAWGATE_DATA_KEYS not set"}`);
      if (counts.length === 0) console.log("No stored values in the encrypted columns.");
      for (const c of counts) console.log(`  ${c.column.padEnd(28)} ${(c.keyId ?? "(clear)").padEnd(12)} ${c.rows}`);
      const missing = missingDataKeys(ring, counts);
      if (missing.length > 0) {
        console.error(`clawgate keys: stored values need key(s) ${missing.join(", ")}, which the ring does not hold`);
        return 2;
      }
      return 0;
    }
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    const result = await rotateDataKeys(db, pool, ring!, cliActor("keys rotate"), {
      batch,
      pauseMs,
      signal: controller.signal,
      onBatch: ({ column, rotated, skipped }) =>
        console.log(
          `  ${column}: ${rotated} re-encrypted${skipped ? `, ${skipped} changed meanwhile (next run)` : ""}`,
        ),
    });
    const total = Object.values(result.rotated).reduce((a, b) => a + b, 0);
    console.log(
      result.complete
        ? `Rotated ${total} value(s) to key ${result.keyId}${result.skipped ? `; ${result.skipped} changed meanwhile: run again` : ""}.`
        : `Stopped after ${total} value(s); run \`clawgate keys rotate\` again to continue.`,
    );
    return result.complete ? 0 : 1;
  } catch (error) {
    return commandFailed(`keys ${action}`, error);
  } finally {
    await db.$disconnect();
    await pool.end();
  }
}
