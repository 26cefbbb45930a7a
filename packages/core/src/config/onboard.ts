/**
 * Config as code: `clawgate onboard` applies a YAML file in ONE transaction with ONE config
 * revision and ONE audit entry, or writes nothing at all. A second apply of the same file finds
 * nothing to change and records no revision.
 */
import type { Db } from "@clawgate/db";
import type { Actor } from "../actor.ts";
import { recordConfigChange } from "../revision.ts";
import { DEFAULT_SECRET_REF_POLICY, type SecretRefPolicy } from "../secret-refs.ts";
import { ONBOARD_ACTOR, planAndApply, type PlannedChange } from "./apply.ts";
import type { OnboardConfig } from "./schema.ts";

export { invalidOnboardConfig, onboardSchema, parseOnboardConfig, type OnboardConfig } from "./schema.ts";
export type { PlannedChange } from "./apply.ts";
export { exportConfig, exportConfigYaml } from "./export.ts";

export { ONBOARD_ACTOR } from "./apply.ts";
export const DEFAULT_MODEL_NAME = "local_chat";

export interface OnboardResult {
  changes: PlannedChange[];
  /** null for a dry run or when nothing changed. */
  configRevision: number | null;
}

export async function applyOnboard(
  db: Db,
  config: OnboardConfig,
  opts: { dryRun?: boolean; actor?: Actor; channel?: string; secretRefs?: SecretRefPolicy } = {},
): Promise<OnboardResult> {
  return db.$transaction(
    async (tx) => {
      const changes = await planAndApply(tx, config, !opts.dryRun, opts.secretRefs ?? DEFAULT_SECRET_REF_POLICY, {
        actor: opts.actor ?? ONBOARD_ACTOR,
        now: new Date(),
      });
      if (opts.dryRun || changes.length === 0) return { changes, configRevision: null };
      const configRevision = await recordConfigChange(tx, {
        actor: opts.actor ?? ONBOARD_ACTOR,
        action: "config.onboard",
        targetType: "system",
        targetId: opts.channel ?? "dingtalk",
        // Model keys are env var names here (apiKeyEnv), never values: the diff is safe to keep.
        diff: { changes },
        summary: `clawgate onboard: ${changes.length} change(s)`,
      });
      return { changes, configRevision };
    },
    { timeout: 30_000 },
  );
}

/** One line per change, for the CLI and its --dry-run. */
export function describeChanges(changes: readonly PlannedChange[]): string[] {
  return changes.map((c) => {
    const fields = Object.entries(c.diff ?? {})
      .map(([k, v]) => ("changed" in v ? `${k} changed` : `${k}: ${JSON.stringify(v.from)} -> ${JSON.stringify(v.to)}`))
      .join(", ");
    return `${c.action} ${c.target} ${c.id}${fields ? ` (${fields})` : ""}${c.note ? `: ${c.note}` : ""}`;
  });
}

/**
 * With no model configured at all, LOCAL_MODEL_BASE_URL (and LOCAL_MODEL_API_KEY, kept as its
 * env var name) define `local_chat` and the default route to it, so a fresh install answers.
 */
export async function ensureDefaultModel(
  db: Db,
  env: { LOCAL_MODEL_BASE_URL?: string | undefined; LOCAL_MODEL_API_KEY?: string | undefined },
  opts: { model?: string } = {},
): Promise<number | null> {
  const baseUrl = env.LOCAL_MODEL_BASE_URL;
  if (!baseUrl) return null;
  return db.$transaction(async (tx) => {
    if ((await tx.modelEndpoint.count()) > 0) return null;
    const apiKeyEnv = env.LOCAL_MODEL_API_KEY ? "LOCAL_MODEL_API_KEY" : null;
    const model = opts.model ?? "clawgate-demo";
    // skipDuplicates: two replicas starting at once must not both fail on the unique name.
    const { count } = await tx.modelEndpoint.createMany({
      data: [{ name: DEFAULT_MODEL_NAME, baseUrl, model, apiKeyEnv }],
      skipDuplicates: true,
    });
    if (count === 0) return null;
    const endpoint = await tx.modelEndpoint.findUniqueOrThrow({
      where: { name: DEFAULT_MODEL_NAME },
      select: { id: true },
    });
    if (!(await tx.route.findFirst({ where: { isDefault: true }, select: { id: true } }))) {
      await tx.route.create({ data: { isDefault: true, modelEndpointId: endpoint.id } });
    }
    return recordConfigChange(tx, {
      actor: { type: "SYSTEM", name: "env LOCAL_MODEL_BASE_URL" },
      action: "model.create",
      targetType: "model_endpoint",
      targetId: DEFAULT_MODEL_NAME,
      diff: {
        baseUrl: { from: null, to: baseUrl },
        model: { from: null, to: model },
        apiKeyEnv: { from: null, to: apiKeyEnv },
      },
      summary: `Default model ${DEFAULT_MODEL_NAME} from LOCAL_MODEL_BASE_URL`,
    });
  });
}
