/** The console's environment, validated once. Nothing else reads process.env. */
import { createEnv } from "@t3-oss/env-nextjs";
import { PHASE_PRODUCTION_BUILD } from "next/constants";
import { z } from "zod";
import { serverEnvSchema } from "./env-schema.ts";

export const env = createEnv({
  server: serverEnvSchema,
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
