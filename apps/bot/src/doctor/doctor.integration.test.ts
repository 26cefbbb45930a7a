/**
 * `clawgate doctor` tells the truth: on a real, migrated database with a real model listener,
 * each thing that leaves the robot useless fails with its fix (a missing budget only warns),
 * and a database configured as onboarding leaves it passes.
 */
import { applyOnboard, parseOnboardConfig } from "@clawgate/core";
import { createDb, newDataKey, parseKeyRing, type Db } from "@clawgate/db";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startModelsStub } from "../../test/helpers.ts";
import { formatResults, runDoctor, type DoctorResult } from "./doctor.ts";

let testDb: TestDatabase;
let db: Db;
let model: Awaited<ReturnType<typeof startModelsStub>>;
let modelBase: string;
const MODEL_KEY = "sk-doctor-model-key";
const DATA_KEYS = newDataKey("d1");

const env = () => ({
  DATABASE_URL: testDb.url,
  DINGTALK_APP_KEY: "ding-key",
  DINGTALK_APP_SECRET: "ding-secret",
  GPU_API_KEY: MODEL_KEY,
  CLAWGATE_DATA_KEYS: DATA_KEYS,
});

const CONFIG = () => `
models:
  gpu:
    base_url: ${modelBase}
    api_key: \${GPU_API_KEY}
    model: m
routing:
  defaults: { model: gpu }
conversations:
  - { id: cid-ops, environment: prod, enabled: true }
skills:
  - { key: kb.search, enabled: true }
flags:
  agent.tools: { enabled: true, description: Offer skills to the model }
budgets:
  default: { daily_tokens: 200000 }
users:
  - { email: admin@example.com, role: admin }
`;

const failed = (results: DoctorResult[]) => results.filter((r) => !r.ok).map((r) => r.name);
const exitCode = (results: DoctorResult[]) => (results.every((r) => r.ok) ? 0 : 1);

beforeAll(async () => {
  testDb = await createTestDatabase({ prefix: "clawgate_bot_doctor" });
  db = createDb(testDb.url, { max: 2 });
  model = await startModelsStub(MODEL_KEY);
  modelBase = model.url;
});
afterAll(async () => {
  await model?.close();
  await db?.$disconnect();
  await testDb?.drop();
});

describe("clawgate doctor", () => {
  it("on a migrated but unconfigured database: fails each missing piece with its fix, warns about budgets", async () => {
    const results = await runDoctor(env());
    expect(exitCode(results)).toBe(1);
    expect(failed(results)).toEqual([
      "model endpoint reachable",
      "an enabled conversation",
      "flag agent.tools on",
      "an enabled skill",
      "a console admin",
    ]);
    const text = formatResults(results);
    expect(text).toMatch(/✗ flag agent\.tools on\n\s+agent\.tools is missing: .*\n\s+fix: run `clawgate migrate`/);
    expect(text).toMatch(/✗ a console admin\n.*\n\s+fix: run `clawgate user add --email/);
    expect(text).toMatch(/! a token budget\n\s+no budget at all: token use is unlimited\n\s+fix: /);
    expect(text).toMatch(/5 check\(s\) failed \(1 warning\)\.$/);
  });

  it("passes once onboarding configured it", async () => {
    await applyOnboard(db, parseOnboardConfig(CONFIG()));
    const results = await runDoctor(env());
    expect(failed(results)).toEqual([]);
    expect(exitCode(results)).toBe(0);
    expect(formatResults(results)).toMatch(/All checks passed\.$/);
    expect(formatResults(results)).not.toContain(MODEL_KEY);
  });

  it.each([
    ["agent.tools off", "flags:\n  agent.tools: off\n", "flag agent.tools on", /fix: turn it on in the console/],
    [
      "no enabled conversation",
      "conversations:\n  - { id: cid-ops, environment: prod, enabled: false }\n",
      "an enabled conversation",
      /fix: enable one on the console's Conversations page/,
    ],
    ["no enabled skill", "skills:\n  - { key: kb.search, enabled: false }\n", "an enabled skill", /fix: enable skills/],
  ])("fails on %s, with the fix", async (_what, change, check, fix) => {
    await applyOnboard(db, parseOnboardConfig(change));
    try {
      const results = await runDoctor(env());
      expect(failed(results)).toEqual([check]);
      expect(exitCode(results)).toBe(1);
      expect(formatResults(results)).toMatch(fix);
    } finally {
      await applyOnboard(db, parseOnboardConfig(CONFIG()));
    }
  });

  it("fails without an active admin", async () => {
    await db.user.updateMany({ where: { role: "ADMIN" }, data: { disabledAt: new Date() } });
    try {
      expect(failed(await runDoctor(env()))).toEqual(["a console admin"]);
    } finally {
      await db.user.updateMany({ data: { disabledAt: null } });
    }
  });

  it("no budget at all only warns: the run passes", async () => {
    await db.tokenBudget.deleteMany();
    try {
      const results = await runDoctor(env());
      expect(exitCode(results)).toBe(0);
      expect(formatResults(results)).toMatch(/! a token budget[\s\S]*All checks passed \(1 warning\)\.$/);
    } finally {
      await applyOnboard(db, parseOnboardConfig(CONFIG()));
    }
  });

  it("fails when the model's key env var is unset or the endpoint is unreachable", async () => {
    const { GPU_API_KEY: _unset, ...noKey } = env();
    const unset = await runDoctor(noKey);
    expect(failed(unset)).toEqual([`model endpoint gpu reachable (${modelBase})`]);
    expect(formatResults(unset)).toMatch(/API key env var GPU_API_KEY is not set\n\s+fix: export GPU_API_KEY=<key>/);

    const downUrl = `http://127.0.0.1:${await freePort()}/v1`;
    await db.modelEndpoint.update({ where: { name: "gpu" }, data: { baseUrl: downUrl } });
    try {
      const down = await runDoctor(env());
      expect(failed(down)).toEqual([`model endpoint gpu reachable (${downUrl})`]);
      expect(formatResults(down)).toMatch(/cannot connect: ECONNREFUSED\n\s+fix: start the model server/);
    } finally {
      await db.modelEndpoint.update({ where: { name: "gpu" }, data: { baseUrl: modelBase } });
    }
  });

  it("a key naming DATABASE_URL fails and the endpoint is never called", async () => {
    await db.modelEndpoint.update({ where: { name: "gpu" }, data: { apiKeyEnv: "DATABASE_URL" } });
    try {
      model.requests.length = 0;
      const results = await runDoctor(env());
      expect(failed(results)).toEqual([`model endpoint gpu reachable (${modelBase})`]);
      expect(formatResults(results)).toMatch(/not called: DATABASE_URL is one of Clawgate's own settings/);
      expect(model.requests).toEqual([]);
    } finally {
      await db.modelEndpoint.update({ where: { name: "gpu" }, data: { apiKeyEnv: "GPU_API_KEY" } });
    }
  });

  it.each(["http", "stream"])("fails without DingTalk credentials in %s mode", async (mode) => {
    const { DINGTALK_APP_SECRET: _unset, ...rest } = env();
    const results = await runDoctor({ ...rest, DINGTALK_MODE: mode });
    expect(failed(results)).toEqual([`DingTalk credentials present (${mode} mode)`]);
    expect(formatResults(results)).toMatch(/not set: DINGTALK_APP_SECRET\n\s+fix: set DINGTALK_APP_SECRET/);
  });

  it("fails when a stored value is under a data key the ring does not hold, naming it; warns without a ring", async () => {
    const gone = newDataKey("gone");
    const old = createDb(testDb.url, { max: 1, dataKeys: parseKeyRing(gone) });
    try {
      await old.inboundMessage.create({
        data: {
          robotCode: "r",
          msgId: "doctor-keys",
          channel: "HTTP",
          conversationId: "c",
          senderId: "s",
          msgType: "text",
          payload: { text: { content: "hello" } },
          traceId: "t",
        },
      });
      const results = await runDoctor(env());
      expect(failed(results)).toEqual(["data keys (CLAWGATE_DATA_KEYS) hold every stored key id"]);
      expect(formatResults(results)).toMatch(
        /no key in the ring for: gone[\s\S]*fix: add gone:<its base64 key> to CLAWGATE_DATA_KEYS/,
      );
      // With the old key back in the ring (before the newest): passes, and says a rotation is due.
      const both = await runDoctor({ ...env(), CLAWGATE_DATA_KEYS: `${gone},${DATA_KEYS}` });
      expect(failed(both)).toEqual([]);
      expect(formatResults(both)).toMatch(
        /1 value\(s\) not under the newest key d1\n\s+fix: run `clawgate keys rotate`/,
      );
    } finally {
      await db.inboundMessage.deleteMany({ where: { msgId: "doctor-keys" } });
      await old.$disconnect();
    }
    const { CLAWGATE_DATA_KEYS: _none, ...clear } = env();
    const results = await runDoctor(clear);
    expect(failed(results)).toEqual([]);
    expect(formatResults(results)).toMatch(/! data keys[\s\S]*chat content is stored in clear/);
    expect(failed(await runDoctor({ ...clear, NODE_ENV: "production" }))).toEqual([
      "data keys (CLAWGATE_DATA_KEYS) hold every stored key id",
    ]);
  });
});
