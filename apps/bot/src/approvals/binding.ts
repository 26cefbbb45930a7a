/**
 * What an approval is bound to, as the runtime computes it at request time and again at
 * execution (core approvals.ts `approvalBindingHash`): a skill's definition version changes
 * when its risk class, its input schema or its admin settings change, so an approval granted
 * for one definition never runs under another.
 */
import { canonicalJson, type PolicySnapshot } from "@clawgate/core";
import type { SkillManifest } from "@clawgate/skills";
import { createHash } from "node:crypto";
import { z } from "zod";

const inputSchemas = new WeakMap<SkillManifest, unknown>();

function inputSchemaOf(manifest: SkillManifest): unknown {
  let schema = inputSchemas.get(manifest);
  if (schema === undefined) {
    schema = z.toJSONSchema(manifest.input, { io: "input", unrepresentable: "any" });
    inputSchemas.set(manifest, schema);
  }
  return schema;
}

export function skillVersion(
  manifest: SkillManifest,
  snapshot: PolicySnapshot,
  settings: Record<string, unknown>,
): string {
  const riskClass = snapshot.skills.get(manifest.key)?.riskClass ?? manifest.riskClass;
  return createHash("sha256")
    .update(canonicalJson({ key: manifest.key, riskClass, input: inputSchemaOf(manifest), settings }))
    .digest("hex")
    .slice(0, 32);
}
