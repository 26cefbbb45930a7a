/**
 * `clawgate onboard --channel dingtalk --config FILE.yaml [--dry-run]`: config as code. The file
 * is checked in full before anything is written; all of it applies in one audited revision, or
 * none of it does.
 */
import { readFile } from "node:fs/promises";
import { createDb } from "@clawgate/db";
import { commandFailed } from "./failed.ts";
import { readEnvVar } from "../env.ts";
import { runtimeSecretRefs } from "../secret-refs.ts";
import { envOrExit } from "./env-or-exit.ts";

const CHANNELS = ["dingtalk"];

export async function onboard(opts: { channel: string; config: string; dryRun?: boolean }): Promise<number> {
  if (!CHANNELS.includes(opts.channel)) {
    console.error(`clawgate onboard: --channel must be one of ${CHANNELS.join(", ")}, got "${opts.channel}"`);
    return 2;
  }
  let text: string;
  try {
    text = await readFile(opts.config, "utf8");
  } catch (error) {
    console.error(
      `clawgate onboard: cannot read ${opts.config}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
    return 2;
  }
  const { applyOnboard, describeChanges, parseOnboardConfig } = await import("@clawgate/core");
  let config;
  try {
    config = parseOnboardConfig(text);
  } catch (error) {
    return commandFailed("onboard", error);
  }

  const env = envOrExit(["DATABASE_URL"]);
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2 });
  try {
    const { changes, configRevision } = await applyOnboard(db, config, {
      dryRun: opts.dryRun ?? false,
      channel: opts.channel,
      secretRefs: runtimeSecretRefs(),
    });
    const lines = describeChanges(changes);
    if (changes.length === 0) console.log("Nothing to change: the database already matches the file.");
    else if (opts.dryRun) console.log(`Dry run: ${changes.length} change(s) would be applied (nothing written):`);
    else console.log(`Applied ${changes.length} change(s) in config revision ${configRevision}:`);
    for (const line of lines) console.log(`  ${line}`);
    for (const [name, model] of Object.entries(config.models)) {
      if (model.api_key && readEnvVar(model.api_key) === undefined) {
        console.log(
          `Note: models.${name} reads its key from ${model.api_key}, which is not set here; set it where the runtime runs.`,
        );
      }
    }
    return 0;
  } catch (error) {
    return commandFailed("onboard", error);
  } finally {
    await db.$disconnect();
  }
}
