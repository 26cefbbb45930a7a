import { startDemoModel, type DemoModel } from "@clawgate/devstack/demo-model";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelRoute } from "./catalog.ts";
import { backoffMs, complete, ModelUnavailableError } from "./model.ts";

let model: DemoModel;
let route: ModelRoute;
beforeAll(async () => {
  model = await startDemoModel({ port: 0 });
  const timeout = 300;
  route = { scope: "default", endpointName: "demo", model: "clawgate-demo", maxToolRounds: 2, timeoutMs: timeout, maxConcurrency: 4, client: new OpenAI({ baseURL: model.url, apiKey: "k", timeout, maxRetries: 0 }) };
});
afterAll(() => model?.close());

const messages = [{ role: "user" as const, content: "hello" }];

/** Runs one completion in `mode`; returns the error (if any), the requests made and the back-offs slept. */
async function attempt(mode: Parameters<DemoModel["setMode"]>[0]) {
  model.setMode(mode);
  const before = model.requests.length;
  const slept: number[] = [];
  const error = await complete(route, { messages }, { sleep: async (ms) => void slept.push(ms) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  model.setMode("ok");
  return { error, requests: model.requests.length - before, slept };
}

describe("complete", () => {
  it("answers when the model does", async () => {
    const res = await complete(route, { messages });
    expect(res.choices[0]?.message.content).toContain("Demo model here");
  });

  it("retries 429 and 5xx twice with jittered back-off, then gives up with the status", async () => {
    for (const [mode, status] of [["rate_limited", 429], ["error500", 500]] as const) {
      const { error, requests, slept } = await attempt(mode);
      expect(error).toBeInstanceOf(ModelUnavailableError);
      expect((error as ModelUnavailableError).status).toBe(status);
      expect(requests).toBe(3);
      expect(slept).toHaveLength(2);
      expect(slept[0]).toBeGreaterThanOrEqual(250);
      expect(slept[1]).toBeGreaterThanOrEqual(500);
    }
  });

  it("does not retry a dropped connection or a timeout", async () => {
    for (const mode of ["down", "slow"] as const) {
      const { error, requests, slept } = await attempt(mode);
      expect(error).toBeInstanceOf(ModelUnavailableError);
      expect(requests).toBe(1);
      expect(slept).toEqual([]);
    }
  });
});

describe("backoffMs", () => {
  it("doubles from 250 ms with up to as much again of jitter", () => {
    for (const [n, base] of [[0, 250], [1, 500], [2, 1_000]] as const) {
      for (let i = 0; i < 20; i++) {
        const ms = backoffMs(n);
        expect(ms).toBeGreaterThanOrEqual(base);
        expect(ms).toBeLessThan(2 * base);
      }
    }
  });
});
