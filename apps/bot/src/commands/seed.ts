/** `clawgate seed --demo`: the demo data set from @clawgate/core. */
import { createDb } from "@clawgate/db";
import { commandFailed } from "./failed.ts";
import { envOrExit } from "./env-or-exit.ts";

export async function seed(opts: { demo?: boolean }): Promise<number> {
  if (!opts.demo) {
    console.error("clawgate seed: only `clawgate seed --demo` exists so far.");
    return 2;
  }
  const env = envOrExit(["DATABASE_URL", "LOCAL_MODEL_BASE_URL", "CLAWGATE_DATA_KEYS"]);
  // Loaded on demand: the other commands do not pay for the domain package.
  const { seedDemo } = await import("@clawgate/core");
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", dataKeys: env.CLAWGATE_DATA_KEYS });
  try {
    const { created, configRevision } = await seedDemo(db, { modelBaseUrl: env.LOCAL_MODEL_BASE_URL });
    const entries = Object.entries(created);
    if (entries.length === 0) console.log("Demo data already present: nothing to create.");
    else {
      const summary = entries.map(([what, n]) => `${what} ${n}`).join(", ");
      console.log(`Demo data seeded: ${summary} (config revision ${configRevision ?? "unchanged"}).`);
    }
    return 0;
  } catch (error) {
    return commandFailed("seed", error);
  } finally {
    await db.$disconnect();
  }
}
