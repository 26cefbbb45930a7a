import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { seedDemo } from "../seed/demo.ts";
import {
  apiKeyEnvSchema,
  createEndpoint,
  deleteEndpoint,
  deleteRoute,
  listModels,
  setRoute,
  updateEndpoint,
} from "./models.ts";
import { DEFAULT_SECRET_REF_POLICY as POLICY, secretRefPolicy } from "../secret-refs.ts";
import { DomainError } from "../errors.ts";

let tdb: TestDatabase;
let db: Db;
beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_console_models" });
  db = createDb(tdb.url, { max: 2 });
  await seedDemo(db);
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const snapshot = () =>
  Promise.all([db.modelEndpoint.findMany({ orderBy: { name: "asc" } }), db.route.findMany({ orderBy: { id: "asc" } })]);

describe("apiKeyEnvSchema", () => {
  it("takes an env var name with or without ${}, and empty as no key", () => {
    expect(apiKeyEnvSchema.parse("BIG_MODEL_API_KEY")).toBe("BIG_MODEL_API_KEY");
    expect(apiKeyEnvSchema.parse(" ${BIG_MODEL_API_KEY} ")).toBe("BIG_MODEL_API_KEY");
    expect(apiKeyEnvSchema.parse("")).toBeNull();
  });

  it("refuses anything else without echoing it (it may be a real key)", () => {
    for (const bad of ["sk-live-abcdef123456", "lower_case", "${sk-abc}", "A B"]) {
      const result = apiKeyEnvSchema.safeParse(bad);
      expect(result.success).toBe(false);
      expect(JSON.stringify(result.error?.issues)).not.toContain(bad);
      expect(result.error?.issues[0]?.message).toMatch(/name of an env var/);
    }
  });
});

describe("model endpoints", () => {
  it("creates an endpoint with the defaults and a field diff", async () => {
    const { result, diff } = await db.$transaction((t) =>
      createEndpoint(
        t,
        {
          name: "big",
          baseUrl: "https://llm.internal/v1",
          model: "qwen2.5-72b",
          apiKeyEnv: "${BIG_MODEL_API_KEY}",
        },
        POLICY,
      ),
    );
    const row = await db.modelEndpoint.findUniqueOrThrow({ where: { id: result.id } });
    expect(row).toMatchObject({
      name: "big",
      apiKeyEnv: "BIG_MODEL_API_KEY",
      timeoutMs: 30_000,
      maxConcurrency: 8,
      enabled: true,
      kind: "OPENAI_COMPATIBLE",
    });
    expect(diff).toMatchObject({
      apiKeyEnv: { from: null, to: "BIG_MODEL_API_KEY" },
      model: { from: null, to: "qwen2.5-72b" },
    });
  });

  it("refuses bad input and duplicate names, changing nothing", async () => {
    const before = await snapshot();
    await expect(
      db.$transaction((t) => createEndpoint(t, { name: "big", baseUrl: "https://x.test/v1", model: "m" }, POLICY)),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(
      db.$transaction((t) => createEndpoint(t, { name: "9bad", baseUrl: "ftp://x", model: "", timeoutMs: 5 }, POLICY)),
    ).rejects.toBeInstanceOf(ZodError);
    await expect(
      db.$transaction((t) =>
        createEndpoint(t, { name: "other", baseUrl: "https://x.test/v1", model: "m", apiKeyEnv: "sk-123" }, POLICY),
      ),
    ).rejects.toBeInstanceOf(ZodError);
    expect(await snapshot()).toEqual(before);
  });

  it("refuses a key naming one of Clawgate's own settings, or off the allowlists, changing nothing", async () => {
    const before = await snapshot();
    const big = await db.modelEndpoint.findUniqueOrThrow({ where: { name: "big" } });
    for (const name of ["DATABASE_URL", "DINGTALK_APP_SECRET", "NEXTAUTH_SECRET", "OIDC_CLIENT_SECRET"]) {
      const create = db.$transaction((t) =>
        createEndpoint(t, { name: "exfil", baseUrl: "http://127.0.0.1:9/v1", model: "m", apiKeyEnv: name }, POLICY),
      );
      await expect(create).rejects.toMatchObject({
        code: "BAD_REQUEST",
        message: expect.stringContaining(`API key env var: ${name} is one of Clawgate's own settings`),
      });
      await expect(
        db.$transaction((t) => updateEndpoint(t, { id: big.id, apiKeyEnv: `\${${name}}` }, POLICY)),
      ).rejects.toBeInstanceOf(DomainError);
    }
    await expect(db.$transaction((t) => updateEndpoint(t, { id: big.id, apiKeyEnv: "HOME" }, POLICY))).rejects.toThrow(
      /HOME does not match SECRET_ENV_ALLOWLIST/,
    );
    const hosts = secretRefPolicy({ MODEL_BASE_URL_ALLOWLIST: "llm.internal" });
    await expect(
      db.$transaction((t) => updateEndpoint(t, { id: big.id, baseUrl: "http://127.0.0.1:9/v1" }, hosts)),
    ).rejects.toThrow(/Base URL: host 127.0.0.1:9 is not in MODEL_BASE_URL_ALLOWLIST/);
    expect(await snapshot()).toEqual(before);
  });

  it("updates fields and reports only what changed", async () => {
    const big = await db.modelEndpoint.findUniqueOrThrow({ where: { name: "big" } });
    const { diff } = await db.$transaction((t) =>
      updateEndpoint(t, { id: big.id, timeoutMs: 45_000, model: "qwen2.5-72b", apiKeyEnv: "" }, POLICY),
    );
    expect(diff).toEqual({
      timeoutMs: { from: 30_000, to: 45_000 },
      apiKeyEnv: { from: "BIG_MODEL_API_KEY", to: null },
    });
    expect(await db.modelEndpoint.findUniqueOrThrow({ where: { id: big.id } })).toMatchObject({
      timeoutMs: 45_000,
      apiKeyEnv: null,
    });
  });

  it("refuses to disable or delete the endpoint of the default route", async () => {
    const local = await db.modelEndpoint.findUniqueOrThrow({ where: { name: "local_chat" } });
    const before = await snapshot();
    const disable = db.$transaction((t) => updateEndpoint(t, { id: local.id, enabled: false }, POLICY));
    await expect(disable).rejects.toBeInstanceOf(DomainError);
    await expect(disable).rejects.toThrow(/serves the default route/);
    await expect(db.$transaction((t) => deleteEndpoint(t, local.id))).rejects.toThrow(/serves the default route/);
    expect(await snapshot()).toEqual(before);
  });
});

describe("routes", () => {
  it("points the default route elsewhere, then the old endpoint can be disabled", async () => {
    const [big, local] = await Promise.all([
      db.modelEndpoint.findUniqueOrThrow({ where: { name: "big" } }),
      db.modelEndpoint.findUniqueOrThrow({ where: { name: "local_chat" } }),
    ]);
    const { diff } = await db.$transaction((t) =>
      setRoute(t, { conversationId: null, modelEndpointId: big.id, maxToolRounds: 6, budgetId: null }),
    );
    expect(diff).toMatchObject({ model: { from: "local_chat", to: "big" }, maxToolRounds: { from: 4, to: 6 } });
    expect(await db.route.count({ where: { isDefault: true } })).toBe(1);
    await db.$transaction((t) => updateEndpoint(t, { id: local.id, enabled: false }, POLICY));
    const listed = await listModels(db);
    expect(listed.defaultRoute?.modelEndpoint.name).toBe("big");
    expect(listed.endpoints.find((e) => e.name === "big")?.isDefault).toBe(true);
  });

  it("refuses a route to a disabled endpoint, to an unknown conversation or budget", async () => {
    const local = await db.modelEndpoint.findUniqueOrThrow({ where: { name: "local_chat" } });
    const big = await db.modelEndpoint.findUniqueOrThrow({ where: { name: "big" } });
    const conv = await db.conversation.findFirstOrThrow();
    const before = await snapshot();
    await expect(
      db.$transaction((t) => setRoute(t, { conversationId: conv.id, modelEndpointId: local.id })),
    ).rejects.toThrow(/is disabled/);
    await expect(
      db.$transaction((t) => setRoute(t, { conversationId: "nope", modelEndpointId: big.id })),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      db.$transaction((t) => setRoute(t, { conversationId: conv.id, modelEndpointId: big.id, budgetId: "nope" })),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      db.$transaction((t) => setRoute(t, { conversationId: conv.id, modelEndpointId: big.id, maxToolRounds: 99 })),
    ).rejects.toBeInstanceOf(ZodError);
    expect(await snapshot()).toEqual(before);
  });

  it("creates, changes and deletes a conversation's route; the endpoint in use cannot be deleted", async () => {
    const local = await db.modelEndpoint.findUniqueOrThrow({ where: { name: "local_chat" } });
    await db.$transaction((t) => updateEndpoint(t, { id: local.id, enabled: true }, POLICY));
    const conv = await db.conversation.findFirstOrThrow();
    const budget = await db.tokenBudget.findFirstOrThrow({ where: { scope: "DEFAULT" } });
    const created = await db.$transaction((t) =>
      setRoute(t, { conversationId: conv.id, modelEndpointId: local.id, maxToolRounds: 2, budgetId: budget.id }),
    );
    expect(created.result.scope).toBe(conv.conversationId);
    expect(created.diff).toMatchObject({
      model: { from: null, to: "local_chat" },
      budget: { from: null, to: "DEFAULT" },
    });
    const again = await db.$transaction((t) =>
      setRoute(t, { conversationId: conv.id, modelEndpointId: local.id, maxToolRounds: 2, budgetId: budget.id }),
    );
    expect(again.result.id).toBe(created.result.id);
    expect(again.diff).toEqual({});

    await expect(db.$transaction((t) => deleteEndpoint(t, local.id))).rejects.toThrow(/serves 1 conversation route/);
    const defaultRoute = await db.route.findFirstOrThrow({ where: { isDefault: true } });
    await expect(db.$transaction((t) => deleteRoute(t, defaultRoute.id))).rejects.toThrow(
      /default route cannot be deleted/,
    );

    const deleted = await db.$transaction((t) => deleteRoute(t, created.result.id));
    expect(deleted.diff).toEqual({ model: { from: "local_chat", to: null } });
    expect(await db.route.findUnique({ where: { id: created.result.id } })).toBeNull();
    await db.$transaction((t) => deleteEndpoint(t, local.id));
    expect(await db.modelEndpoint.findUnique({ where: { name: "local_chat" } })).toBeNull();
  });
});
