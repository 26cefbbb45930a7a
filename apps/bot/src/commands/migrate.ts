/** `clawgate migrate`: applies the committed migrations (`prisma migrate deploy`). */
import { deployMigrations, migrationStatusFor } from "@clawgate/db/migrations";
import { describeDbError } from "../db-checks.ts";
import { envOrExit } from "./env-or-exit.ts";

export async function migrate(): Promise<number> {
  const { DATABASE_URL } = envOrExit(["DATABASE_URL"]);
  try {
    const before = await migrationStatusFor(DATABASE_URL);
    if (before.pending.length === 0 && before.failed.length === 0) {
      console.log(`Database is already up to date (${before.applied.length} migrations applied).`);
      return 0;
    }
    try {
      await deployMigrations(DATABASE_URL);
    } catch (error) {
      // Prisma's own output says which migration failed and why.
      console.error((error as Error).message);
      return 1;
    }
    const after = await migrationStatusFor(DATABASE_URL);
    const applied = before.pending.filter((m) => after.applied.includes(m));
    console.log(`Applied ${applied.length} migration(s):`);
    for (const m of applied) console.log(`  - ${m}`);
    if (after.pending.length > 0) {
      console.error(`Still pending: ${after.pending.join(", ")}`);
      return 1;
    }
    return 0;
  } catch (error) {
    console.error(`clawgate migrate failed: ${describeDbError(error)}`);
    return 1;
  }
}
