import { isReservedEnvName } from "@clawgate/core/secret-refs.ts";
import { describe, expect, it } from "vitest";
import { CONSOLE_ENV_KEYS } from "./env-schema.ts";

describe("the console's own settings", () => {
  it("every key of the env schema is reserved: configuration can never name it as a secret", () => {
    // A new setting added to env-schema.ts without a reserved name or prefix in core fails here.
    expect(CONSOLE_ENV_KEYS.filter((k) => !isReservedEnvName(k, "model_api_key"))).toEqual([]);
    expect(CONSOLE_ENV_KEYS.filter((k) => !isReservedEnvName(k, "skill_secret"))).toEqual([]);
  });
});
