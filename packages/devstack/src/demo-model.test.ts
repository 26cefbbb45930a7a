import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoModel, type DemoModel } from "./demo-model.ts";

let model: DemoModel;
beforeAll(async () => {
  model = await startDemoModel({ port: 0 });
});
afterAll(() => model.close());

const base = () => model.url.replace(/\/v1$/, "");

describe("the demo model's request log", () => {
  it("serves what it received at GET /_demo/requests, newest last", async () => {
    const body = { model: "clawgate-demo", messages: [{ role: "user", content: "hello there" }] };
    const res = await fetch(`${model.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    const log = (await (await fetch(`${base()}/_demo/requests`)).json()) as {
      requests: { method: string; path: string; body: unknown }[];
    };
    expect(log.requests.at(-1)).toMatchObject({ method: "POST", path: "/v1/chat/completions", body });
    expect(log.requests.some((r) => r.path === "/_demo/requests")).toBe(false);
    expect(model.requests.at(-1)).toMatchObject({ path: "/v1/chat/completions", body });
  });

  it("switches fault modes over HTTP", async () => {
    const set = (b: unknown) => fetch(`${base()}/_demo/mode`, { method: "POST", body: JSON.stringify(b) });
    expect(await (await set({ mode: "error500" })).json()).toMatchObject({ mode: "error500" });
    const failed = await fetch(`${model.url}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ messages: [{ role: "user", content: "x" }] }),
    });
    expect(failed.status).toBe(500);
    expect((await set({ mode: "nope" })).status).toBe(400);
    await set({ mode: "ok" });
  });
});
