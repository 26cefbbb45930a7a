/**
 * The runtime's environment: the only module that reads `process.env`. Each command validates
 * just the variables it needs (`loadEnv(source, ["DATABASE_URL"])`), so `clawgate migrate`
 * does not fail on a missing DingTalk secret.
 */
import { dataKeysEnvSchema } from "@clawgate/core/data-keys-env.ts";
import { createEnv } from "@t3-oss/env-core";
import { z } from "zod";

type Source = Record<string, string | undefined>;

const show = (input: unknown) => JSON.stringify(input);

const databaseUrl = z
  .string({
    error: (iss) => (iss.input === undefined ? "is required (a postgresql:// URL)" : "must be a postgresql:// URL"),
  })
  .refine(
    (v) => {
      try {
        const u = new URL(v);
        return (u.protocol === "postgresql:" || u.protocol === "postgres:") && u.hostname !== "";
      } catch {
        return false;
      }
    },
    { error: "must be a postgresql:// URL (postgresql://user:password@host:5432/database)" },
  );

const httpUrl = (what: string) =>
  z.url({ protocol: /^https?$/, error: (iss) => `${what} must be an http(s) URL, got ${show(iss.input)}` });

const port = z
  .string()
  .transform((v, ctx) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > 65535) {
      ctx.addIssue({ code: "custom", message: `expected an integer between 1 and 65535, got ${show(v)}` });
      return z.NEVER;
    }
    return n;
  })
  .default(8080);

// METRICS_PORT: a port, "0" (any free port, logged: tests) or "off" (no metrics listener).
const metricsPort = z
  .string()
  .transform((v, ctx) => {
    if (v === "off") return "off" as const;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > 65535) {
      ctx.addIssue({ code: "custom", message: `expected a port (0 for any free one) or "off", got ${show(v)}` });
      return z.NEVER;
    }
    return n;
  })
  .default(9464);

const intAtLeast = (min: number, fallback: number) =>
  z
    .string()
    .transform((v, ctx) => {
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < min) {
        ctx.addIssue({ code: "custom", message: `expected an integer >= ${min}, got ${show(v)}` });
        return z.NEVER;
      }
      return n;
    })
    .default(fallback);

// host[:port] entries, lowercased; matched against `new URL(sessionWebhook).host`.
const hostList = z
  .string()
  .transform((v, ctx) => {
    const hosts = v
      .split(",")
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    const bad = hosts.filter((h) => !/^[a-z0-9.-]+(:\d{1,5})?$/.test(h));
    if (hosts.length === 0 || bad.length > 0) {
      ctx.addIssue({ code: "custom", message: `expected a comma list of host[:port], got ${show(v)}` });
      return z.NEVER;
    }
    return hosts;
  })
  .default(["oapi.dingtalk.com"]);

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: (iss) => `expected one of ${values.join(", ")}, got ${show(iss.input)}` });

export const envSchema = {
  DATABASE_URL: databaseUrl,
  PORT: port,
  HOST: z.string().min(1).default("0.0.0.0"),
  LOG_LEVEL: enumOf(LOG_LEVELS).default("info"),
  // /metrics (src/routes/ops.ts): its own listener, loopback by default; METRICS_TOKEN (bearer) is
  // required on every /metrics when set, and is what makes /metrics answer on PORT at all.
  METRICS_PORT: metricsPort,
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  METRICS_TOKEN: z
    .string()
    .min(16, { error: "must be at least 16 characters" })
    .regex(/^[\x21-\x7e]+$/, { error: "must be printable ASCII without spaces" })
    .optional(),
  DINGTALK_MODE: enumOf(["http", "stream"]).default("http"),
  DINGTALK_APP_KEY: z.string().optional(),
  DINGTALK_APP_SECRET: z.string().optional(),
  DINGTALK_TOKEN: z.string().optional(),
  DINGTALK_AES_KEY: z
    .string()
    .refine((v) => v.length === 43, {
      error: (iss) => `must be exactly 43 characters, got ${String(iss.input).length}`,
    })
    .optional(),
  DINGTALK_API_BASE: httpUrl("DingTalk API base").default("https://api.dingtalk.com"),
  // Approval cards (src/approvals/): HTTP-mode card callbacks at POST /dingtalk/card are signed with
  // this apiSecret (x-ddpaas-signature); without it that route answers 503. Stream mode needs none.
  DINGTALK_CARD_CALLBACK_SECRET: z.string().min(16, { error: "must be at least 16 characters" }).optional(),
  // The public URL of POST /dingtalk/card: registered with DingTalk at start under the route key.
  DINGTALK_CARD_CALLBACK_URL: httpUrl("card callback URL").optional(),
  DINGTALK_CARD_ROUTE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .default("clawgate-approvals"),
  // The console's address, for the "open in the console" link of approval messages.
  CLAWGATE_CONSOLE_URL: httpUrl("console URL").optional(),
  DINGTALK_WEBHOOK_HOSTS: hostList,
  DINGTALK_FAKE_URL: httpUrl("fake DingTalk URL").default("http://127.0.0.1:3200"),
  // HMAC-SHA256 key of the audit chain's checkpoints (core retention.ts): the purge deletes old
  // audit rows only with it, and `clawgate audit verify` checks checkpoints with it.
  CLAWGATE_AUDIT_SIGNING_KEY: z.string().min(32, { error: "must be at least 32 characters" }).optional(),
  // 0: an ingress-only replica (stores and enqueues; other replicas run the jobs).
  WORKER_CONCURRENCY: intAtLeast(0, 8),
  // Replicas beat every HEARTBEAT_INTERVAL_MS; one whose beat stood still for REPLICA_DEAD_AFTER_MS
  // (at least 3 intervals) has its queue jobs released by the others (src/worker/reclaim.ts).
  HEARTBEAT_INTERVAL_MS: intAtLeast(100, 3_000),
  // DingTalk's documented send limits (notes/dingtalk-protocol.md): 20 QPS per app, 20 messages a
  // minute per robot in one chat; shared by every replica (src/worker/throttle.ts).
  OUTBOUND_ROBOT_PER_SECOND: intAtLeast(1, 20),
  OUTBOUND_CONVERSATION_PER_MINUTE: intAtLeast(1, 20),
  // false: every conversation's jobs in one shared FIFO (no per-conversation order or fairness);
  // kept to measure the difference (bench/fairness).
  QUEUE_PER_CONVERSATION: z
    .enum(["true", "false"], { error: (iss) => `expected true or false, got ${show(iss.input)}` })
    .default("true")
    .transform((v) => v === "true"),
  REPLICA_DEAD_AFTER_MS: intAtLeast(1_000, 15_000),
  // Messages of one conversation waiting for an answer past which a flood gets one notice per burst
  // instead of a model turn each (src/worker/backlog.ts); 0 turns the cap off.
  BACKLOG_CAP_PER_CONVERSATION: intAtLeast(0, 20),
  LOCAL_MODEL_BASE_URL: httpUrl("model base URL").optional(),
  LOCAL_MODEL_API_KEY: z.string().optional(),
  // Agent resilience (src/agent/): the user hears back within the turn deadline, whatever the model does.
  AGENT_TURN_DEADLINE_MS: intAtLeast(1_000, 18_000),
  AGENT_WORKING_ON_IT_MS: intAtLeast(100, 4_000),
  MODEL_CONNECT_TIMEOUT_MS: intAtLeast(100, 3_000),
  BREAKER_FAILURES: intAtLeast(1, 5),
  BREAKER_HALF_OPEN_MS: intAtLeast(100, 15_000),
  // What configuration may name as a secret and where a model may point (@clawgate/core secret-refs.ts).
  SECRET_ENV_ALLOWLIST: z.string().optional(),
  SKILL_SECRET_ENV_ALLOWLIST: z.string().optional(),
  MODEL_BASE_URL_ALLOWLIST: z.string().optional(),
  // Field encryption at rest (packages/db/src/field-crypto.ts): comma-separated `id:base64key`
  // pairs (32-byte keys), the newest last; it encrypts, all decrypt. Unset: chat content is
  // stored in clear, which `serve` refuses when NODE_ENV=production.
  CLAWGATE_DATA_KEYS: dataKeysEnvSchema,
  NODE_ENV: z.string().optional(),
};

type Schema = typeof envSchema;
export type EnvKey = keyof Schema;
export type Env = { [K in EnvKey]: z.output<Schema[K]> };

export const ALL_ENV_KEYS = Object.keys(envSchema) as EnvKey[];

/** Thrown when the environment is invalid; `lines` holds one "VAR: problem" per issue. */
export class EnvError extends Error {
  constructor(readonly lines: string[]) {
    super(`Invalid environment:\n${lines.map((l) => `  ${l}`).join("\n")}`);
    this.name = "EnvError";
  }
}

export function loadEnv(source?: Source): Env;
export function loadEnv<K extends EnvKey>(source: Source | undefined, keys: readonly K[]): Pick<Env, K>;
export function loadEnv(source: Source = process.env, keys: readonly EnvKey[] = ALL_ENV_KEYS): Partial<Env> {
  const shape = Object.fromEntries(keys.map((k) => [k, envSchema[k]]));
  return createEnv({
    server: shape,
    // A copy: `emptyStringAsUndefined` deletes keys from the object it is given.
    runtimeEnv: { ...source },
    isServer: true,
    emptyStringAsUndefined: true,
    onValidationError: (issues) => {
      throw new EnvError(
        issues.map((issue) => {
          const key = issue.path?.map((p) => (typeof p === "object" ? p.key : p)).join(".");
          return key ? `${key}: ${issue.message}` : issue.message;
        }),
      );
    },
  }) as Partial<Env>;
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|\[::1\]|localhost)$/i;

/**
 * Why this metrics setup would let anyone who reaches the host read /metrics (null when it does
 * not): a listener beyond loopback needs METRICS_TOKEN.
 */
export function metricsExposureProblem(
  env: Pick<Env, "METRICS_PORT" | "METRICS_HOST" | "METRICS_TOKEN">,
): string | null {
  if (env.METRICS_PORT === "off" || env.METRICS_TOKEN || LOOPBACK.test(env.METRICS_HOST)) return null;
  return `METRICS_HOST=${env.METRICS_HOST} serves /metrics beyond this host: set METRICS_TOKEN (a bearer token for the scraper) or bind METRICS_HOST to 127.0.0.1`;
}

/** A secret referenced by env var name (e.g. a model endpoint's `apiKeyEnv`). */
export function readEnvVar(name: string, source: Source = process.env): string | undefined {
  const value = source[name];
  return value === "" ? undefined : value;
}
