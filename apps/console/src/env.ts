/** The console's environment, validated once. Nothing else reads process.env. */
import { createEnv } from "@t3-oss/env-nextjs";
import { PHASE_PRODUCTION_BUILD } from "next/constants";
import { z } from "zod";

const url = z.url().transform((u) => u.replace(/\/+$/, ""));

export const env = createEnv({
  server: {
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
  },
  shared: { NODE_ENV: z.enum(["development", "test", "production"]).default("development") },
  client: {},
  experimental__runtimeEnv: { NODE_ENV: process.env.NODE_ENV },
  // `next build` evaluates route modules to collect page data and needs no secrets, so a fresh
  // clone builds with no env. The server validates when it starts (src/instrumentation.ts).
  skipValidation: process.env.NEXT_PHASE === PHASE_PRODUCTION_BUILD,
  emptyStringAsUndefined: true,
  createFinalSchema: (shape) =>
    z.object(shape).refine((e) => !e.DINGTALK_OAUTH_CLIENT_ID === !e.DINGTALK_OAUTH_CLIENT_SECRET, {
      path: ["DINGTALK_OAUTH_CLIENT_SECRET"],
      message: "set both DINGTALK_OAUTH_CLIENT_ID and DINGTALK_OAUTH_CLIENT_SECRET, or neither",
    }),
  onValidationError: (issues) => {
    const lines = issues.map(
      (i) => `  ${i.path?.map((p) => (typeof p === "object" ? p.key : p)).join(".")}: ${i.message}`,
    );
    throw new Error(`Invalid console environment:\n${lines.join("\n")}\nSee apps/console/src/env.ts.`);
  },
});
