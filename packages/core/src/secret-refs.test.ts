import { describe, expect, it } from "vitest";
import {
  DEFAULT_SECRET_REF_POLICY,
  isReservedEnvName,
  modelBaseUrlProblem,
  secretRefPolicy,
  secretRefProblem,
  skillSettingsSecretProblems,
} from "./secret-refs.ts";

const policy = DEFAULT_SECRET_REF_POLICY;

describe("secretRefProblem", () => {
  it.each([
    "DATABASE_URL",
    "DINGTALK_APP_SECRET",
    "DINGTALK_AES_KEY",
    "NEXTAUTH_SECRET",
    "OIDC_CLIENT_SECRET",
    "PGPASSWORD",
  ])("refuses the runtime's and console's own setting %s for every kind, whatever the allowlist", (name) => {
    const open = secretRefPolicy({ SECRET_ENV_ALLOWLIST: "*", SKILL_SECRET_ENV_ALLOWLIST: "*" });
    for (const kind of ["model_api_key", "skill_secret"] as const) {
      expect(secretRefProblem(name, kind, open)).toMatch(`${name} is one of Clawgate's own settings`);
    }
  });

  it("allows *_API_KEY for model keys and *_API_KEY, *_TOKEN for skill secrets by default", () => {
    expect(secretRefProblem("GPU_CHAT_API_KEY", "model_api_key", policy)).toBeNull();
    expect(secretRefProblem("KB_TOKEN", "model_api_key", policy)).toMatch(
      /does not match SECRET_ENV_ALLOWLIST \(\*_API_KEY\)/,
    );
    expect(secretRefProblem("KB_TOKEN", "skill_secret", policy)).toBeNull();
    expect(secretRefProblem("KB_API_KEY", "skill_secret", policy)).toBeNull();
    expect(secretRefProblem("HOME", "skill_secret", policy)).toMatch(/SKILL_SECRET_ENV_ALLOWLIST/);
  });

  it("LOCAL_MODEL_API_KEY may be a model key (it exists for that) but never a skill secret", () => {
    expect(secretRefProblem("LOCAL_MODEL_API_KEY", "model_api_key", policy)).toBeNull();
    expect(isReservedEnvName("LOCAL_MODEL_API_KEY", "skill_secret")).toBe(true);
    expect(secretRefProblem("LOCAL_MODEL_API_KEY", "skill_secret", policy)).toMatch(/own settings/);
  });

  it("follows the operator's patterns", () => {
    const custom = secretRefPolicy({ SECRET_ENV_ALLOWLIST: "LLM_*, OPENAI_API_KEY" });
    expect(secretRefProblem("LLM_GPU", "model_api_key", custom)).toBeNull();
    expect(secretRefProblem("OPENAI_API_KEY", "model_api_key", custom)).toBeNull();
    expect(secretRefProblem("GPU_API_KEY", "model_api_key", custom)).toMatch(/LLM_\*,OPENAI_API_KEY/);
    expect(secretRefProblem("X_API_KEY", "model_api_key", secretRefPolicy({ SECRET_ENV_ALLOWLIST: "" }))).toMatch(
      /empty: nothing allowed/,
    );
  });
});

describe("modelBaseUrlProblem", () => {
  it("allows any host without MODEL_BASE_URL_ALLOWLIST", () => {
    expect(modelBaseUrlProblem("http://127.0.0.1:9/v1", policy)).toBeNull();
  });

  it("checks hosts, host:port and *.domain entries", () => {
    const p = secretRefPolicy({ MODEL_BASE_URL_ALLOWLIST: "vllm.internal, *.models.corp, 127.0.0.1:3300" });
    expect(modelBaseUrlProblem("http://vllm.internal:8000/v1", p)).toBeNull();
    expect(modelBaseUrlProblem("https://gpu1.models.corp/v1", p)).toBeNull();
    expect(modelBaseUrlProblem("http://127.0.0.1:3300/v1", p)).toBeNull();
    expect(modelBaseUrlProblem("http://127.0.0.1:4000/v1", p)).toMatch(
      /host 127.0.0.1:4000 is not in MODEL_BASE_URL_ALLOWLIST/,
    );
    expect(modelBaseUrlProblem("https://evil.test/v1", p)).toMatch(/evil.test/);
    expect(modelBaseUrlProblem("https://models.corp.evil.test/v1", p)).not.toBeNull();
  });
});

describe("skillSettingsSecretProblems", () => {
  it("checks every *Env setting as a skill secret, one line each", () => {
    expect(skillSettingsSecretProblems("kb.search", { baseUrl: "http://kb", tokenEnv: "KB_TOKEN" }, policy)).toEqual(
      [],
    );
    expect(
      skillSettingsSecretProblems("kb.search", { baseUrl: "http://kb", tokenEnv: "DATABASE_URL" }, policy),
    ).toEqual([expect.stringMatching(/^kb.search settings.tokenEnv: DATABASE_URL is one of Clawgate's own settings/)]);
    expect(skillSettingsSecretProblems("help", null, policy)).toEqual([]);
  });
});
