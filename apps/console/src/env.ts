/** The console's environment, validated once. Nothing else reads process.env. */
import { createEnv } from "@t3-oss/env-nextjs";
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
      .transform((s) => (s ?? "").split(",").map((e) => e.trim().toLowerCase()).filter(Boolean)),
  },
  shared: { NODE_ENV: z.enum(["development", "test", "production"]).default("development") },
  client: {},
  experimental__runtimeEnv: { NODE_ENV: process.env.NODE_ENV },
  // `next build` needs no secrets: SKIP_ENV_VALIDATION=1 lets CI build without them.
  skipValidation: !!process.env.SKIP_ENV_VALIDATION,
  emptyStringAsUndefined: true,
  onValidationError: (issues) => {
    const lines = issues.map((i) => `  ${i.path?.map((p) => (typeof p === "object" ? p.key : p)).join(".")}: ${i.message}`);
    throw new Error(`Invalid console environment:\n${lines.join("\n")}\nSee apps/console/src/env.ts.`);
  },
});
