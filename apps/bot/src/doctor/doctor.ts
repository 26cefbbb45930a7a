/**
 * `clawgate doctor`: every check, one result each, with a fix for each failure. Never throws
 * on a broken environment or an unreachable database: that is what it reports.
 */
import { createDb, type Db } from "@clawgate/db";
import { checkDatabase, checkMigrations } from "../db-checks.ts";
import { modelBaseUrlProblem, secretRefPolicy } from "@clawgate/core";
import { ALL_ENV_KEYS, EnvError, loadEnv, readEnvVar, type Env } from "../env.ts";
import { readSecretRef } from "../secret-refs.ts";
import { configChecks } from "./config.ts";
import { dataKeysCheck } from "./data-keys.ts";
import { displayUrl, probeModel, type ModelTarget } from "./model.ts";

export interface DoctorResult {
  name: string;
  ok: boolean;
  /** Passed, with a caveat worth fixing (printed with "!"; does not fail the run). */
  warning?: boolean;
  details?: string[];
  fix?: string;
}

type Source = Record<string, string | undefined>;

/** Each variable on its own, so one bad value does not hide the others' checks. */
function partialEnv(source: Source): { env: Partial<Env>; problems: string[] } {
  const env: Partial<Env> = {};
  const problems: string[] = [];
  for (const key of ALL_ENV_KEYS) {
    try {
      Object.assign(env, loadEnv(source, [key]));
    } catch (error) {
      if (!(error instanceof EnvError)) throw error;
      problems.push(...error.lines);
    }
  }
  return { env, problems };
}

function dingtalkCheck(env: Partial<Env>): DoctorResult {
  const missing = (["DINGTALK_APP_KEY", "DINGTALK_APP_SECRET"] as const).filter((k) => !env[k]);
  const mode = env.DINGTALK_MODE ?? "http";
  const why =
    mode === "stream"
      ? "stream mode opens its connection with the app key and secret"
      : "http mode verifies callback signatures with the app secret and replies through the OpenAPI with key + secret";
  if (missing.length === 0) return { name: `DingTalk credentials present (${mode} mode)`, ok: true };
  return {
    name: `DingTalk credentials present (${mode} mode)`,
    ok: false,
    details: [`not set: ${missing.join(", ")}`],
    fix: `set ${missing.join(" and ")} from the DingTalk developer console (app credentials); ${why}`,
  };
}

async function modelTargets(db: Db | undefined, env: Partial<Env>): Promise<{ targets: ModelTarget[]; note?: string }> {
  let note: string | undefined = db ? undefined : "ModelEndpoint rows not read: database unavailable or not migrated";
  if (db) {
    try {
      const rows = await db.modelEndpoint.findMany({
        where: { enabled: true },
        select: { name: true, baseUrl: true, apiKeyEnv: true },
        orderBy: { name: "asc" },
      });
      if (rows.length > 0) return { targets: rows };
    } catch {
      note = "could not read ModelEndpoint rows";
    }
  }
  if (env.LOCAL_MODEL_BASE_URL) {
    return {
      targets: [{ name: "LOCAL_MODEL_BASE_URL", baseUrl: env.LOCAL_MODEL_BASE_URL, apiKeyEnv: "LOCAL_MODEL_API_KEY" }],
      note,
    };
  }
  return { targets: [], note };
}

async function modelChecks(db: Db | undefined, env: Partial<Env>, source: Source): Promise<DoctorResult[]> {
  const { targets, note } = await modelTargets(db, env);
  if (targets.length === 0) {
    return [
      {
        name: "model endpoint reachable",
        ok: false,
        details: [
          note
            ? `${note}; LOCAL_MODEL_BASE_URL is not set`
            : "no enabled ModelEndpoint in the database and LOCAL_MODEL_BASE_URL is not set",
        ],
        fix: "set LOCAL_MODEL_BASE_URL (an OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1) or add a model endpoint",
      },
    ];
  }
  const policy = secretRefPolicy(env);
  return Promise.all(
    targets.map(async (t) => {
      const name = `model endpoint ${t.name} reachable (${displayUrl(t.baseUrl)})`;
      // The runtime's own rule first: a refused key or host is never read nor called, here either.
      const key = t.apiKeyEnv ? readSecretRef(t.apiKeyEnv, "model_api_key", policy, () => undefined) : null;
      const refused = key && !key.ok ? key.problem : modelBaseUrlProblem(t.baseUrl, policy);
      if (refused) {
        return {
          name,
          ok: false,
          details: [`not called: ${refused}`],
          fix: "point the endpoint's API key at an allowed env var (console Models & routes, or onboard models.<name>.api_key)",
        };
      }
      // LOCAL_MODEL_API_KEY is optional for the env fallback: a local server may need no key.
      const apiKeyEnv = t.apiKeyEnv === "LOCAL_MODEL_API_KEY" && !env.LOCAL_MODEL_API_KEY ? null : t.apiKeyEnv;
      const probe = await probeModel({ ...t, apiKeyEnv }, (n) => readEnvVar(n, source));
      return { name, ok: probe.ok, details: [probe.detail, ...(note ? [note] : [])], fix: probe.fix };
    }),
  );
}

export async function runDoctor(source: Source = process.env): Promise<DoctorResult[]> {
  const results: DoctorResult[] = [];
  const { env, problems } = partialEnv(source);
  results.push(
    problems.length === 0
      ? { name: "environment valid", ok: true }
      : { name: "environment valid", ok: false, details: problems, fix: "correct the variables above and re-run" },
  );

  let db: Db | undefined;
  if (env.DATABASE_URL)
    db = createDb(env.DATABASE_URL, { connectionTimeoutMillis: 3_000, applicationName: "clawgate-doctor" });
  try {
    const database = db ? await checkDatabase(db, 3_000) : { ok: false, error: "DATABASE_URL is not valid" };
    results.push({
      name: "database reachable",
      ok: database.ok,
      details: database.error ? [database.error] : undefined,
      fix: database.ok
        ? undefined
        : "start PostgreSQL or correct DATABASE_URL (postgresql://user:password@host:5432/db)",
    });

    const migrations =
      db && database.ok ? await checkMigrations(db, 3_000) : { ok: false, error: "not checked: database unreachable" };
    results.push({
      name: "migrations applied",
      ok: migrations.ok,
      details: migrations.pending?.length
        ? [
            `pending: ${migrations.pending.join(", ")}`,
            ...(migrations.failed?.length ? [`failed: ${migrations.failed.join(", ")}`] : []),
          ]
        : migrations.error
          ? [migrations.error]
          : undefined,
      fix: migrations.ok ? undefined : database.ok ? "npx clawgate migrate" : "fix the database connection first",
    });

    results.push(dingtalkCheck(env));
    const ready = database.ok && migrations.ok ? db : undefined;
    results.push(...(await modelChecks(ready, env, source)));
    if (ready) results.push(...(await configChecks(ready)));
    if (ready && env.DATABASE_URL)
      results.push(
        await dataKeysCheck(env.DATABASE_URL, env.CLAWGATE_DATA_KEYS ?? null, env.NODE_ENV === "production"),
      );
  } finally {
    await db?.$disconnect().catch(() => {});
  }
  return results;
}

export function formatResults(results: DoctorResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.ok ? (r.warning ? "!" : "✓") : "✗"} ${r.name}`);
    for (const d of r.details ?? []) lines.push(`    ${d}`);
    if ((!r.ok || r.warning) && r.fix) lines.push(`    fix: ${r.fix}`);
  }
  const failed = results.filter((r) => !r.ok).length;
  const warned = results.filter((r) => r.ok && r.warning).length;
  const warnings = warned > 0 ? ` (${warned} warning${warned === 1 ? "" : "s"})` : "";
  lines.push(failed === 0 ? `All checks passed${warnings}.` : `${failed} check(s) failed${warnings}.`);
  return lines.join("\n");
}
