import { isReservedEnvName, MODEL_KEY_ENV_NAMES } from "@clawgate/core";
import { describe, expect, it } from "vitest";
import { ALL_ENV_KEYS } from "./env.ts";
import { readSecretRef, runtimeSecretRefs } from "./secret-refs.ts";

describe("the runtime's own settings", () => {
  it("every key of the env schema is reserved: configuration can never name it as a secret", () => {
    // A new setting added to env.ts without a reserved name or prefix in core fails here.
    const open = ALL_ENV_KEYS.filter((k) => isReservedEnvName(k, "skill_secret") === false);
    expect(open).toEqual([]);
    const asModelKey = ALL_ENV_KEYS.filter((k) => !isReservedEnvName(k, "model_api_key"));
    expect(asModelKey).toEqual([...MODEL_KEY_ENV_NAMES]);
  });
});

describe("readSecretRef", () => {
  const source = { DATABASE_URL: "postgresql://u:pw@db/x", GPU_API_KEY: "sk-1", SECRET_ENV_ALLOWLIST: "GPU_*" };
  const read = (n: string) => source[n as keyof typeof source];

  it("reads an allowed name and never reads a refused one", () => {
    const policy = runtimeSecretRefs(source);
    expect(readSecretRef("GPU_API_KEY", "model_api_key", policy, read)).toEqual({ ok: true, value: "sk-1" });
    const refused = readSecretRef("DATABASE_URL", "model_api_key", policy, () => {
      throw new Error("a refused name must not be read");
    });
    expect(refused).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/DATABASE_URL is one of Clawgate's own/),
    });
    expect(JSON.stringify(refused)).not.toContain("pw@db");
  });
});
