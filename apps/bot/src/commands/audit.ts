/**
 * `clawgate audit verify`: recomputes the audit chain from the newest signed checkpoint (the
 * retention purge's) and checks every checkpoint's signature with CLAWGATE_AUDIT_SIGNING_KEY.
 * Prints OK, or names the first broken link (row id, time, action; or the checkpoint) and exits 1.
 * Works with the console down: it reads the database only.
 */
import { createDb } from "@clawgate/db";
import { commandFailed } from "./failed.ts";
import { envOrExit } from "./env-or-exit.ts";

const CHECKPOINT_WHY = {
  signature: "its signature does not match (forged, or signed with another key)",
  no_key: "CLAWGATE_AUDIT_SIGNING_KEY is not set, so its signature cannot be checked",
  covers_rows: "rows it says were purged are still there (put back?)",
} as const;

export async function auditVerify(): Promise<number> {
  const env = envOrExit(["DATABASE_URL", "CLAWGATE_AUDIT_SIGNING_KEY"]);
  const { verifyAudit } = await import("@clawgate/core/audit.ts");
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2 });
  try {
    const r = await verifyAudit(db, { signingKey: env.CLAWGATE_AUDIT_SIGNING_KEY });
    if (r.ok) {
      const from = r.checkpoint
        ? `from checkpoint ${r.checkpoint.id} (rows up to ${r.checkpoint.lastId} purged ${r.checkpoint.at.toISOString()}; signature valid)`
        : "from the first row";
      console.log(`OK: ${r.rows} audit rows verified ${from}.`);
      return 0;
    }
    const b = r.broken;
    if (b.kind === "row")
      console.log(
        `BROKEN: audit row ${b.id} at ${b.at.toISOString()} (${b.action}): ${
          b.why === "link" ? "its link to the previous row does not match" : "its content does not match its hash"
        }. ${r.rows} rows before it verified.`,
      );
    else console.log(`BROKEN: audit checkpoint ${b.id} (rows up to ${b.lastId}): ${CHECKPOINT_WHY[b.why]}.`);
    return 1;
  } catch (error) {
    return commandFailed("audit verify", error);
  } finally {
    await db.$disconnect();
  }
}
