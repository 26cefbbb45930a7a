/**
 * The runtime's side of "no secret reachable through config" (@clawgate/core secret-refs.ts):
 * the policy from this app's env, and the one way the runtime reads a secret that configuration
 * names. A refused name is never read: the caller gets the reason (a name, never a value).
 */
import { secretRefPolicy, secretRefProblem, type SecretRefKind, type SecretRefPolicy } from "@clawgate/core";
import { loadEnv, readEnvVar } from "./env.ts";

export const SECRET_REF_ENV_KEYS = [
  "SECRET_ENV_ALLOWLIST",
  "SKILL_SECRET_ENV_ALLOWLIST",
  "MODEL_BASE_URL_ALLOWLIST",
] as const;

/** From `source` (the process env by default, read through env.ts). */
export function runtimeSecretRefs(source?: Record<string, string | undefined>): SecretRefPolicy {
  return secretRefPolicy(loadEnv(source, SECRET_REF_ENV_KEYS));
}

export type SecretRead = { ok: true; value: string | undefined } | { ok: false; problem: string };

export function readSecretRef(
  name: string,
  kind: SecretRefKind,
  policy: SecretRefPolicy,
  read: (name: string) => string | undefined = readEnvVar,
): SecretRead {
  const problem = secretRefProblem(name, kind, policy);
  return problem ? { ok: false, problem } : { ok: true, value: read(name) };
}

/** A skill named a secret it may not (the message names the variable and the rule, never a value). */
export class SecretRefRefused extends Error {
  override name = "SecretRefRefused";
}

/**
 * A skill's `getSecret`: reads an allowed skill secret (e.g. the internal API's `tokenEnv`) and
 * throws on a refused one, so the skill fails with the reason and sends nothing.
 */
export function skillSecretReader(
  policy: SecretRefPolicy,
  read: (name: string) => string | undefined = readEnvVar,
): (name: string) => string | undefined {
  return (name) => {
    const r = readSecretRef(name, "skill_secret", policy, read);
    if (!r.ok) throw new SecretRefRefused(r.problem);
    return r.value;
  };
}
