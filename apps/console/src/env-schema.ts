/**
 * The console's server env schema, apart from env.ts so tests and the secret-reference rule can
 * list its keys without validating the process env (@clawgate/core secret-refs.ts reserves each).
 */
import { dataKeysEnvSchema } from "@clawgate/core/data-keys-env.ts";
import { z } from "zod";

const url = z.url().transform((u) => u.replace(/\/+$/, ""));

export const serverEnvSchema = {
  DATABASE_URL: z.url().refine((u) => /^postgres(ql)?:\/\//.test(u), "must be a postgresql:// URL"),
  NEXTAUTH_URL: url,
  NEXTAUTH_SECRET: z.string().min(32, "must be at least 32 characters (openssl rand -base64 32)"),
  OIDC_ISSUER: url,
  OIDC_CLIENT_ID: z.string().min(1),
  OIDC_CLIENT_SECRET: z.string().min(1),
  /** Comma-separated emails that become ADMIN on their first sign-in. */
  ADMIN_EMAILS: z
    .string()
    .optional()
    .transform((s) =>
      (s ?? "")
        .split(",")
        .map((e) => e.trim().toLowerCase())
        .filter(Boolean),
    ),
  /**
   * DingTalk login (OAuth 2, not OIDC): the app's Client ID (AppKey) and Client Secret
   * (AppSecret). Both or neither; without them the console offers SSO only.
   */
  DINGTALK_OAUTH_CLIENT_ID: z.string().min(1).optional(),
  DINGTALK_OAUTH_CLIENT_SECRET: z.string().min(1).optional(),
  /** DingTalk's login page and OpenAPI hosts; the demo and the tests point them at the fake DingTalk. */
  DINGTALK_LOGIN_BASE: url.default("https://login.dingtalk.com"),
  DINGTALK_API_BASE: url.default("https://api.dingtalk.com"),
  /** Sign-in attempts (requests to the sign-in and callback routes) per client IP per window. */
  SIGNIN_RATE_LIMIT_PER_IP: z.coerce.number().int().min(1).default(30),
  /** Completed identity-provider sign-ins per email per window. */
  SIGNIN_RATE_LIMIT_PER_EMAIL: z.coerce.number().int().min(1).default(10),
  SIGNIN_RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).default(600),
  /**
   * Which X-Forwarded-For entry, counted from the right, is the client: 1 = the address the
   * nearest reverse proxy saw (or Next.js itself when nothing is in front); 2 with a CDN in
   * front of that proxy, and so on. Entries further left are client-supplied and never trusted.
   */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(1).max(10).default(1),
  /** What configuration may name as a secret and where a model may point (see README, Configuration). */
  SECRET_ENV_ALLOWLIST: z.string().optional(),
  SKILL_SECRET_ENV_ALLOWLIST: z.string().optional(),
  MODEL_BASE_URL_ALLOWLIST: z.string().optional(),
  /**
   * The runtime's data key ring (field encryption at rest): the same value as the runtime's, so
   * message texts, memory and approval inputs read decrypted. Without it those reads fail and name
   * the key they need.
   */
  CLAWGATE_DATA_KEYS: dataKeysEnvSchema,
};

export const CONSOLE_ENV_KEYS = [...Object.keys(serverEnvSchema), "NODE_ENV"];
