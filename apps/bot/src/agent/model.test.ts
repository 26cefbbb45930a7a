import { startDemoModel, type DemoModel } from "@clawgate/devstack/demo-model";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelRoute } from "./catalog.ts";
import { backoffMs, complete, modelBreakers, ModelUnavailableError, TurnDeadlineError } from "./model.ts";

let model: DemoModel;
let route: ModelRoute;
beforeAll(async () => {
  model = await startDemoModel({ port: 0 });
  const timeout = 300;
  route = {
    scope: "default",
    endpointName: "demo",
    model: "clawgate-demo",
    maxToolRounds: 2,
    timeoutMs: timeout,
    maxConcurrency: 4,
    maxContextTokens: 8_192,
    client: new OpenAI({ baseURL: model.url, apiKey: "k", timeout, maxRetries: 0 }),
  };
});
afterAll(() => model?.close());

const messages = [{ role: "user" as const, content: "hello" }];

/** Runs one completion in `mode`; returns the error (if any), the requests made and the back-offs slept. */
async function attempt(mode: Parameters<DemoModel["setMode"]>[0]) {
  modelBreakers.reset();
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
    for (const [mode, status] of [
      ["rate_limited", 429],
      ["error500", 500],
    ] as const) {
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

describe("complete's timeouts", () => {
  it("gives each call at most the time left before the deadline, and no retry that cannot finish in it", async () => {
    modelBreakers.reset();
    const slowRoute = { ...route, timeoutMs: 10_000 };
    model.setMode("slow", { latencyMs: 5_000 });
    try {
      const started = Date.now();
      const error = await complete(slowRoute, { messages }, { deadlineAt: started + 600 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelUnavailableError);
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      model.setMode("ok");
    }
    model.setMode("error500");
    try {
      const before = model.requests.length;
      const slept: number[] = [];
      // 300 ms left: the first back-off (>= 250 ms) plus a call would not fit, so no retry.
      const error = await complete(
        route,
        { messages },
        { deadlineAt: Date.now() + 300, sleep: async (ms) => void slept.push(ms) },
      ).catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 500 });
      expect(model.requests.length - before).toBe(1);
      expect(slept).toEqual([]);
    } finally {
      model.setMode("ok");
    }
    // No time left at all: no request.
    const before = model.requests.length;
    await expect(complete(route, { messages }, { deadlineAt: Date.now() + 100 })).rejects.toThrow(
      "the turn's deadline was reached",
    );
    expect(model.requests.length).toBe(before);
  });
});

describe("the model's circuit breaker", () => {
  it("opens after consecutive failures, refuses without a request, and closes after a healthy trial", async () => {
    modelBreakers.configure({ failures: 3, halfOpenAfterMs: 300 });
    modelBreakers.reset();
    model.setMode("error500");
    const before = model.requests.length;
    // One call: three attempts (two retries), three failures: open.
    await expect(complete(route, { messages }, { sleep: async () => undefined })).rejects.toMatchObject({
      status: 500,
    });
    expect(model.requests.length - before).toBe(3);
    expect(modelBreakers.states()).toEqual([{ name: "model:demo", open: true }]);
    model.setMode("ok");
    await expect(complete(route, { messages })).rejects.toThrow("demo: circuit breaker open after repeated failures");
    expect(model.requests.length - before).toBe(3);
    await new Promise((r) => setTimeout(r, 350));
    expect((await complete(route, { messages })).choices[0]?.message.content).toContain("Demo model here");
    expect(modelBreakers.states()).toEqual([{ name: "model:demo", open: false }]);
  });

  it("counts a call the turn's deadline cut short as a timeout, not a caller's cancellation", async () => {
    modelBreakers.configure({ failures: 1, halfOpenAfterMs: 60_000 });
    model.setMode("slow", { latencyMs: 5_000 });
    try {
      const slowRoute = { ...route, timeoutMs: 10_000 };
      const cancelled = new AbortController();
      setTimeout(() => cancelled.abort(), 200);
      await expect(complete(slowRoute, { messages }, { signal: cancelled.signal })).rejects.toBeInstanceOf(
        ModelUnavailableError,
      );
      expect(modelBreakers.states()).toEqual([{ name: "model:demo", open: false }]);
      const deadline = new AbortController();
      setTimeout(() => deadline.abort(new TurnDeadlineError()), 300);
      await expect(
        complete(slowRoute, { messages }, { signal: deadline.signal, deadlineAt: Date.now() + 300 }),
      ).rejects.toThrow("demo: the turn's deadline was reached");
      expect(modelBreakers.states()).toEqual([{ name: "model:demo", open: true }]);
    } finally {
      model.setMode("ok");
      modelBreakers.configure({ failures: 5, halfOpenAfterMs: 15_000 });
    }
  });

  it("does not count 4xx answers (a wrong key is not an unhealthy endpoint)", async () => {
    modelBreakers.configure({ failures: 2, halfOpenAfterMs: 60_000 });
    const keyed = await startDemoModel({ port: 0, apiKey: "right" });
    try {
      const wrongKey = {
        ...route,
        endpointName: "keyed",
        client: new OpenAI({ baseURL: keyed.url, apiKey: "wrong", timeout: 1_000, maxRetries: 0 }),
      };
      for (let i = 0; i < 4; i++) await expect(complete(wrongKey, { messages })).rejects.toMatchObject({ status: 401 });
      expect(keyed.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(4);
      expect(modelBreakers.states().find((s) => s.name === "model:keyed")?.open).toBe(false);
    } finally {
      await keyed.close();
      modelBreakers.configure({ failures: 5, halfOpenAfterMs: 15_000 });
    }
  });
});

describe("backoffMs", () => {
  it("doubles from 250 ms with up to as much again of jitter", () => {
    for (const [n, base] of [
      [0, 250],
      [1, 500],
      [2, 1_000],
    ] as const) {
      for (let i = 0; i < 20; i++) {
        const ms = backoffMs(n);
        expect(ms).toBeGreaterThanOrEqual(base);
        expect(ms).toBeLessThan(2 * base);
      }
    }
  });
});
