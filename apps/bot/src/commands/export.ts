/**
 * `clawgate export --config FILE.yaml`: the live configuration in the onboarding file's format
 * (models with api_key as ${ENV} references, routing, limits, conversations, skills with their
 * settings and rules, flags, budgets, users, the reserved sections). `clawgate onboard --dry-run`
 * of the file plans no change. Reads only; `-` writes to stdout.
 */
import { writeFile } from "node:fs/promises";
import { createDb } from "@clawgate/db";
import { commandFailed } from "./failed.ts";
import { envOrExit } from "./env-or-exit.ts";

export async function exportConfig(opts: { config: string }): Promise<number> {
  const env = envOrExit(["DATABASE_URL", "CLAWGATE_DATA_KEYS"]);
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2, dataKeys: env.CLAWGATE_DATA_KEYS });
  try {
    const { exportConfigYaml } = await import("@clawgate/core");
    const yaml = await exportConfigYaml(db);
    if (opts.config === "-") {
      process.stdout.write(yaml);
      return 0;
    }
    try {
      await writeFile(opts.config, yaml, { mode: 0o644 });
    } catch (error) {
      console.error(
        `clawgate export: cannot write ${opts.config}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
      return 2;
    }
    console.log(`Wrote the live configuration to ${opts.config}.`);
    console.log(`Check it with: clawgate onboard --channel dingtalk --config ${opts.config} --dry-run`);
    return 0;
  } catch (error) {
    return commandFailed("export", error);
  } finally {
    await db.$disconnect();
  }
}
