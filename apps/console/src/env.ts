/** The console's environment, validated once. Nothing else reads process.env. */
import { createEnv } from "@t3-oss/env-nextjs";
import { z } from "zod";
import { serverEnvSchema } from "./env-schema.ts";

export const env = createEnv({
  server: serverEnvSchema,
  shared: { NODE_ENV: z.enum(["development", "test", "production"]).default("development") },
  client: {},
  experimental__runtimeEnv: { NODE_ENV: process.env.NODE_ENV },
  // `next build` needs no secrets: SKIP_ENV_VALIDATION=1 lets CI build without them.
  skipValidation: !!process.env.SKIP_ENV_VALIDATION,
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
