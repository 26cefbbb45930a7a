/**
 * The `clawgate onboard` file: YAML checked with zod. Every problem is reported at once, one
 * line each, naming its path, so a user fixes the file in one pass. Model keys are references
 * to env vars (`${NAME}`): a literal key in a file that lives in git is refused outright.
 */
import { BUILTIN_SKILLS } from "@clawgate/skills";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";

export class OnboardError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid onboarding config:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "OnboardError";
  }
}

const ENV_REF = /^\$\{([A-Z_][A-Z0-9_]*)\}$/;
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const KNOWN_SKILLS: readonly string[] = BUILTIN_SKILLS.map((s) => s.key);

const httpUrl = z.url({ protocol: /^https?$/, hostname: /./, error: "must be an http(s) URL" });

const apiKeyRef = z
  .string({ error: "must be an env var reference like ${LOCAL_MODEL_API_KEY}" })
  .transform((v, ctx) => {
    const ref = ENV_REF.exec(v.trim());
    if (!ref) {
      // The value itself is never echoed: it may be a real key.
      ctx.addIssue({
        code: "custom",
        message:
          "a literal API key is not allowed in the config file: put the key in an env var and write api_key: ${ENV_VAR_NAME}",
      });
      return z.NEVER;
    }
    return ref[1]!;
  });

const model = z.strictObject({
  kind: z.literal("openai_compatible", { error: 'must be "openai_compatible"' }).default("openai_compatible"),
  base_url: httpUrl,
  api_key: apiKeyRef.optional(),
  model: z.string().min(1, { error: "must not be empty" }),
  timeout_ms: z.number().int().min(100).max(600_000).optional(),
});

const conversation = z.strictObject({
  id: z.string().min(1, { error: "must not be empty" }),
  title: z.string().max(200).optional(),
  environment: z.enum(["test", "prod"]),
  enabled: z.boolean(),
  type: z.enum(["group", "single"]).default("group"),
});

const rule = z
  .strictObject({
    scope: z.enum(["global", "conversation", "user"]),
    subject: z.string().min(1).optional(),
    effect: z.enum(["allow", "deny"]),
  })
  .superRefine((r, ctx) => {
    if (r.scope === "global" && r.subject !== undefined)
      ctx.addIssue({ code: "custom", path: ["subject"], message: "a global rule has no subject" });
    if (r.scope !== "global" && r.subject === undefined)
      ctx.addIssue({ code: "custom", path: ["subject"], message: `a ${r.scope} rule needs a subject` });
  });

const skill = z
  .strictObject({
    key: z
      .string()
      .refine((k) => KNOWN_SKILLS.includes(k), { error: `must be a known skill (${KNOWN_SKILLS.join(", ")})` }),
    enabled: z.boolean().optional(),
    rules: z.array(rule).optional(),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.rules?.forEach((r, i) => {
      const id = `${r.scope}:${r.subject ?? ""}`;
      if (seen.has(id))
        ctx.addIssue({
          code: "custom",
          path: ["rules", i],
          message: `duplicate rule for ${r.scope} ${r.subject ?? ""}`.trim(),
        });
      seen.add(id);
    });
  });

const modelName = z.string().regex(NAME, { error: "model names are letters, digits, _ . - (up to 64)" });

export const onboardSchema = z
  .strictObject({
    version: z.literal(1).optional(),
    models: z.record(modelName, model).default({}),
    routing: z.strictObject({ defaults: z.strictObject({ model: z.string().min(1) }).optional() }).optional(),
    limits: z
      .strictObject({ max_concurrency_per_model: z.record(modelName, z.number().int().min(1).max(1_000)).optional() })
      .optional(),
    conversations: z.array(conversation).default([]),
    skills: z.array(skill).default([]),
  })
  .superRefine((c, ctx) => {
    const dup = (items: { id?: string; key?: string }[], field: "id" | "key", path: string) => {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        const v = item[field]!;
        if (seen.has(v)) ctx.addIssue({ code: "custom", path: [path, i, field], message: `duplicate ${field} "${v}"` });
        seen.add(v);
      });
    };
    dup(c.conversations, "id", "conversations");
    dup(c.skills, "key", "skills");
  });

export type OnboardConfig = z.output<typeof onboardSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    "",
  );
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = formatPath(issue.path);
  if (issue.code === "unrecognized_keys")
    return `${at || "(file)"}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}`;
  let message = issue.message;
  // zod leaves `input` off issues by default; its message names what it received.
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) message = "is required";
  else if (issue.code === "invalid_value")
    message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  return `${at || "(file)"}: ${message}`;
}

/** Parses and validates the file's text; throws OnboardError with every problem found. */
export function parseOnboardConfig(text: string): OnboardConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new OnboardError(
      doc.errors.map((e) => `YAML line ${lineCounter.linePos(e.pos[0]).line}: ${e.message.split("\n")[0]}`),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) throw new OnboardError(["(file): is empty"]);
  const result = onboardSchema.safeParse(data);
  if (!result.success) throw new OnboardError(result.error.issues.map(describeIssue));
  return result.data;
}
