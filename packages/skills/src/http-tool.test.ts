/**
 * HTTP tools: a REST call declared in config. Names resolve through a stub (never DNS) and the
 * connection goes to a loopback test server in place of the checked address, so the tool's
 * decisions (schema, allowlist, address guard, cap, JSON path) are real and nothing leaves the machine.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runSkill, type SkillResult } from "./handler.ts";
import { requestPinned } from "./handlers/http-fetch.ts";
import { httpToolSkill, pickJsonPath } from "./http-tool.ts";
import { testContext } from "./test-context.ts";

let server: Server;
let port: number;
const hits: { method: string; path: string; auth: string | undefined; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      hits.push({
        method: req.method ?? "",
        path,
        auth: req.headers.authorization,
        body: Buffer.concat(chunks).toString(),
      });
      if (path.startsWith("/big")) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: "x".repeat(10_000) }));
        return;
      }
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ items: [{ title: `CI build for ${path}`, ok: true }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  hits.length = 0;
});

const HOST = "ci.corp.example";
const definition = (over: Record<string, unknown> = {}) => ({
  description: "Look up a CI build",
  inputSchema: {
    type: "object",
    properties: { build: { type: "string", pattern: "^[0-9]+$" }, verbose: { type: "boolean" } },
    required: ["build"],
    additionalProperties: false,
  },
  request: {
    method: "GET",
    url: `http://${HOST}:${port}/builds/{build}`,
    headers: { Authorization: "CI_API_TOKEN" },
    maxBytes: 4_096,
    jsonPath: "$.items[0].title",
    ...over,
  },
});

function tool(over: Record<string, unknown> = {}) {
  const skill = httpToolSkill(
    { key: "http.ci_build", riskClass: "READ", requiresApproval: false, timeoutMs: 2_000 },
    definition(over),
    {
      resolve: async (host) => (host === HOST ? [{ address: "10.1.2.3", family: 4 }] : []),
      connect: (url, _target, signal, spec) => requestPinned(url, [{ address: "127.0.0.1", family: 4 }], signal, spec),
    },
  );
  if (!skill) throw new Error("definition refused");
  return skill;
}

const allow = () => ({ allowedHosts: [`${HOST}:${port}`], allowPrivateNetworks: true });
const run = async (input: unknown, settings: Record<string, unknown> = allow(), over: Record<string, unknown> = {}) => {
  const t = tool(over);
  return (
    await runSkill(
      t.manifest,
      t.handler,
      input,
      testContext({ settings, getSecret: (n) => (n === "CI_API_TOKEN" ? "Bearer ci-secret" : undefined) }),
    )
  ).result;
};
const errorOf = (r: SkillResult) => (r.ok ? "(ok)" : r.error);

describe("HTTP tools", () => {
  it("calls the templated URL with the env-ref header and returns the JSON path", async () => {
    const r = await run({ build: "42", verbose: true });
    expect(r).toEqual({ ok: true, content: "CI build for /builds/42?verbose=true" });
    expect(hits).toEqual([{ method: "GET", path: "/builds/42?verbose=true", auth: "Bearer ci-secret", body: "" }]);
  });

  it("refuses input its JSON Schema refuses, before any request", async () => {
    expect(errorOf(await run({ build: "../admin" }))).toMatch(/^invalid input for http\.ci_build: build:/);
    expect(errorOf(await run({ build: "1", extra: "x" }))).toMatch(/^invalid input for http\.ci_build/);
    expect(errorOf(await run({}))).toMatch(/^invalid input for http\.ci_build: build:/);
    expect(hits).toEqual([]);
  });

  it("refuses a host that is not on the outbound allowlist (http.fetch's), before any request", async () => {
    expect(errorOf(await run({ build: "1" }, { allowedHosts: ["wiki.corp.example"] }))).toBe(
      `refused: ${HOST} is not on the allowlist (the outbound allowlist is http.fetch's allowedHosts)`,
    );
    expect(errorOf(await run({ build: "1" }, { allowedHosts: [`${HOST}:${port}`] }))).toBe(
      `refused: ${HOST} resolves to 10.1.2.3 (private, and private networks are not allowed)`,
    );
    expect(hits).toEqual([]);
  });

  it("caps the response: a JSON answer over the cap is refused, a text answer is cut", async () => {
    expect(errorOf(await run({ build: "1" }, allow(), { url: `http://${HOST}:${port}/big/{build}` }))).toBe(
      "the response is larger than the tool's cap (4096 bytes)",
    );
    const text = await run({ build: "1" }, allow(), { url: `http://${HOST}:${port}/big/{build}`, jsonPath: undefined });
    expect(text.ok && text.content.length).toBeLessThan(4_200);
    expect(text.ok && text.content).toMatch(/\[response cut at 4096 bytes\]$/);
  });

  it("sends the remaining input as a JSON body for POST", async () => {
    const r = await run({ build: "7", verbose: false }, allow(), { method: "POST", jsonPath: "$.items[0].ok" });
    expect(r).toEqual({ ok: true, content: "true" });
    expect(hits).toEqual([{ method: "POST", path: "/builds/7", auth: "Bearer ci-secret", body: '{"verbose":false}' }]);
  });

  it("refuses a definition whose host is a template, and picks JSON paths", () => {
    expect(
      httpToolSkill(
        { key: "http.x", riskClass: "READ", requiresApproval: false, timeoutMs: 1_000 },
        definition({ url: "http://{host}/x" }),
      ),
    ).toBeUndefined();
    expect(pickJsonPath({ a: [{ b: 1 }] }, "$.a[0].b")).toBe(1);
    expect(pickJsonPath({ a: [] }, "$.a[0].b")).toBeUndefined();
  });
});
