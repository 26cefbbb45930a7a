import { EnvError, loadEnv, type Env, type EnvKey } from "../env.ts";

/** Validates the variables a command needs; on failure prints one line each and exits 1. */
export function envOrExit(): Env;
export function envOrExit<K extends EnvKey>(keys: readonly K[]): Pick<Env, K>;
export function envOrExit(keys?: readonly EnvKey[]): Partial<Env> {
  try {
    return keys ? loadEnv(undefined, keys) : loadEnv();
  } catch (error) {
    if (!(error instanceof EnvError)) throw error;
    console.error("clawgate: invalid environment");
    for (const line of error.lines) console.error(`  ${line}`);
    process.exit(1);
  }
}
