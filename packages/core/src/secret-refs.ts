/**
 * Which env vars configuration may name as a secret, and which hosts a model endpoint may point
 * at. Configuration (the console, `clawgate onboard`, a row written any other way) names a secret
 * by its env var: a model endpoint's `apiKeyEnv`, a skill setting ending in `Env` (the internal
 * API's `tokenEnv`). The runtime then reads that variable and sends it to a URL the same
 * configuration chose, so a reference to the runtime's own settings (`DATABASE_URL`,
 * `DINGTALK_APP_SECRET`, ...) would hand them to whoever may edit the configuration.
 *
 * The rule, decided here once for the console, onboard, doctor and the runtime at call time:
 * 1. never one of the runtime's or console's own settings (RESERVED_ENV_NAMES / _PREFIXES; each
 *    app's env test asserts every key of its env schema is covered);
 * 2. and it must match the operator's allowlist for its kind: model keys `SECRET_ENV_ALLOWLIST`
 *    (default `*_API_KEY`), skill secrets `SKILL_SECRET_ENV_ALLOWLIST` (default
 *    `*_API_KEY,*_TOKEN`).
 * `MODEL_BASE_URL_ALLOWLIST` (optional, hosts) limits where a model endpoint may point.
 */

/** Settings of the runtime (apps/bot/src/env.ts) and the console (apps/console/src/env.ts). */
export const RESERVED_ENV_NAMES: readonly string[] = [
  "DATABASE_URL",
  "PORT",
  "HOST",
  "LOG_LEVEL",
  "NODE_ENV",
  "INBOUND_RETENTION_HOURS", // retired (the retention section replaced it); still not a key reference
  "WORKER_CONCURRENCY",
  "LOCAL_MODEL_BASE_URL",
  "LOCAL_MODEL_API_KEY",
  "AGENT_TURN_DEADLINE_MS",
  "AGENT_WORKING_ON_IT_MS",
  "MODEL_CONNECT_TIMEOUT_MS",
  "MODEL_BASE_URL_ALLOWLIST",
  "BREAKER_FAILURES",
  "BREAKER_HALF_OPEN_MS",
  "HEARTBEAT_INTERVAL_MS",
  "REPLICA_DEAD_AFTER_MS",
  "QUEUE_PER_CONVERSATION",
  "BACKLOG_CAP_PER_CONVERSATION",
  "OUTBOUND_ROBOT_PER_SECOND",
  "OUTBOUND_CONVERSATION_PER_MINUTE",
  "SECRET_ENV_ALLOWLIST",
  "SKILL_SECRET_ENV_ALLOWLIST",
  "ADMIN_EMAILS",
  "TRUSTED_PROXY_HOPS",
  "SKIP_ENV_VALIDATION",
];

/**
 * Whole families: DingTalk app and OAuth credentials, next-auth, the OIDC client, sign-in limits,
 * Clawgate's own (e.g. CLAWGATE_DATA_KEYS), the metrics listener (METRICS_TOKEN), and libpq's (PGPASSWORD, ...).
 */
export const RESERVED_ENV_PREFIXES: readonly string[] = [
  "DINGTALK_",
  "NEXTAUTH_",
  "OIDC_",
  "SIGNIN_",
  "CLAWGATE_",
  "METRICS_",
  "PG",
];

/**
 * Settings that exist to be a model endpoint's key: `LOCAL_MODEL_API_KEY` is the key of the
 * default endpoint `local_chat` that LOCAL_MODEL_BASE_URL defines. Still reserved for any other
 * kind of secret (a skill's token).
 */
export const MODEL_KEY_ENV_NAMES: readonly string[] = ["LOCAL_MODEL_API_KEY"];

export type SecretRefKind = "model_api_key" | "skill_secret";

export const DEFAULT_SECRET_ENV_ALLOWLIST = "*_API_KEY";
export const DEFAULT_SKILL_SECRET_ENV_ALLOWLIST = "*_API_KEY,*_TOKEN";

export interface SecretRefPolicy {
  /** Glob patterns (`*` only) per kind. */
  allow: Record<SecretRefKind, readonly string[]>;
  /** Hosts a model endpoint may point at (`host`, `host:port`, `*.domain`); null = any. */
  modelHosts: readonly string[] | null;
}

const list = (csv: string | undefined) =>
  (csv ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** The policy from the apps' env values (each app's env.ts reads them; undefined = the default). */
export function secretRefPolicy(
  env: {
    SECRET_ENV_ALLOWLIST?: string | undefined;
    SKILL_SECRET_ENV_ALLOWLIST?: string | undefined;
    MODEL_BASE_URL_ALLOWLIST?: string | undefined;
  } = {},
): SecretRefPolicy {
  const hosts = list(env.MODEL_BASE_URL_ALLOWLIST).map((h) => h.toLowerCase());
  return {
    allow: {
      model_api_key: list(env.SECRET_ENV_ALLOWLIST ?? DEFAULT_SECRET_ENV_ALLOWLIST),
      skill_secret: list(env.SKILL_SECRET_ENV_ALLOWLIST ?? DEFAULT_SKILL_SECRET_ENV_ALLOWLIST),
    },
    modelHosts: hosts.length > 0 ? hosts : null,
  };
}

/** The default policy (no allowlist env set): what tests and callers without env get. */
export const DEFAULT_SECRET_REF_POLICY: SecretRefPolicy = secretRefPolicy();

const globMatch = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  ).test(value);

export function isReservedEnvName(name: string, kind: SecretRefKind = "skill_secret"): boolean {
  if (kind === "model_api_key" && MODEL_KEY_ENV_NAMES.includes(name)) return false;
  return RESERVED_ENV_NAMES.includes(name) || RESERVED_ENV_PREFIXES.some((p) => name.startsWith(p));
}

const ALLOWLIST_VAR: Record<SecretRefKind, string> = {
  model_api_key: "SECRET_ENV_ALLOWLIST",
  skill_secret: "SKILL_SECRET_ENV_ALLOWLIST",
};

/**
 * Why `name` may not be used as a secret reference of this kind, or null when it may. The
 * message names the variable (a name, never a value) and what to do.
 */
export function secretRefProblem(name: string, kind: SecretRefKind, policy: SecretRefPolicy): string | null {
  if (isReservedEnvName(name, kind)) {
    return `${name} is one of Clawgate's own settings and can never be used as a secret reference: put the key in its own env var (e.g. MY_MODEL_API_KEY)`;
  }
  const patterns = policy.allow[kind];
  if (!patterns.some((p) => globMatch(p, name))) {
    return `${name} does not match ${ALLOWLIST_VAR[kind]} (${patterns.join(",") || "empty: nothing allowed"}): name the env var to match it, or have the operator extend ${ALLOWLIST_VAR[kind]}`;
  }
  return null;
}

/** Why a model endpoint may not point at `baseUrl`, or null when it may. */
export function modelBaseUrlProblem(baseUrl: string, policy: SecretRefPolicy): string | null {
  if (!policy.modelHosts) return null;
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return "must be an http(s) URL";
  }
  const host = url.hostname.toLowerCase();
  const withPort = url.port ? `${host}:${url.port}` : host;
  const ok = policy.modelHosts.some((h) =>
    h.startsWith("*.") ? host.endsWith(h.slice(1)) : h.includes(":") ? h === withPort : h === host,
  );
  return ok
    ? null
    : `host ${withPort} is not in MODEL_BASE_URL_ALLOWLIST (${policy.modelHosts.join(",")}): use an allowed host, or have the operator add it`;
}

/** Skill settings naming a secret: every string setting whose key ends in `Env` (e.g. `tokenEnv`). */
export function skillSecretRefs(settings: unknown): { key: string; name: string }[] {
  if (!settings || typeof settings !== "object" || Array.isArray(settings)) return [];
  return Object.entries(settings).flatMap(([key, v]) =>
    key.endsWith("Env") && typeof v === "string" ? [{ key, name: v }] : [],
  );
}

/** One line per refused secret reference in a skill's settings (`<skill> settings.<key>: why`). */
export function skillSettingsSecretProblems(skillKey: string, settings: unknown, policy: SecretRefPolicy): string[] {
  return skillSecretRefs(settings).flatMap(({ key, name }) => {
    const problem = secretRefProblem(name, "skill_secret", policy);
    return problem ? [`${skillKey} settings.${key}: ${problem}`] : [];
  });
}
