/**
 * `clawgate retention run [--dry-run]`: the retention purge now (the runtime runs it every hour),
 * audited as the CLI; --dry-run prints what would be deleted and writes nothing.
 */
import { createDb } from "@clawgate/db";
import { commandFailed } from "./failed.ts";
import { envOrExit } from "./env-or-exit.ts";
import { cliActor } from "./safe-mode.ts";

export async function retentionRun(opts: { dryRun?: boolean }): Promise<number> {
  const env = envOrExit(["DATABASE_URL", "CLAWGATE_AUDIT_SIGNING_KEY"]);
  const { purgeRetention } = await import("@clawgate/core/retention.ts");
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2 });
  try {
    const r = await purgeRetention(db, {
      actor: cliActor("retention"),
      dryRun: opts.dryRun ?? false,
      signingKey: env.CLAWGATE_AUDIT_SIGNING_KEY,
    });
    const shown = (d: number | null) => (d === null ? "forever" : `${d} d`);
    console.log(
      `Retention: ${Object.entries(r.periods)
        .map(([k, d]) => `${k} ${shown(d)}`)
        .join(", ")}`,
    );
    if (r.keptIncidents.length > 0)
      console.log(
        `Kept: the windows of ${r.keptIncidents.length} unreviewed incident(s): ${r.keptIncidents.join(", ")}`,
      );
    console.log(r.dryRun ? "Would delete (dry run, nothing deleted):" : "Deleted:");
    for (const [table, n] of Object.entries(r.counts)) console.log(`  ${table.padEnd(20)} ${n}`);
    if (r.auditSkipped) console.log(`Note: ${r.auditSkipped}`);
    return 0;
  } catch (error) {
    return commandFailed("retention run", error);
  } finally {
    await db.$disconnect();
  }
}
