import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/helpers.ts";
import { displayUrl, probeModel } from "./model.ts";

const KEY = "sk-test-do-not-print";
let server: Server;
let base: string;
const seen: { url?: string; auth?: string }[] = [];

beforeAll(async () => {
  // A real OpenAI-compatible stub: /v1/models with a bearer key, /slow never answers in time.
  server = createServer((req, res) => {
    seen.push({ url: req.url, auth: req.headers.authorization });
    if (req.url === "/slow/models") return void setTimeout(() => res.end("{}"), 2_000);
    if (req.url !== "/v1/models") return void res.writeHead(404).end();
    if (req.headers.authorization !== `Bearer ${KEY}`) return void res.writeHead(401).end();
    res.writeHead(200, { "content-type": "application/json" }).end('{"data":[]}');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const envWith = (vars: Record<string, string>) => (name: string) => vars[name];

describe("probeModel", () => {
  it("passes with the key from the named env var", async () => {
    const probe = await probeModel(
      { name: "m", baseUrl: `${base}/v1/`, apiKeyEnv: "MODEL_KEY" },
      envWith({ MODEL_KEY: KEY }),
    );
    expect(probe).toEqual({ ok: true, detail: "HTTP 200" });
    expect(seen.at(-1)).toEqual({ url: "/v1/models", auth: `Bearer ${KEY}` });
  });

  it("reports a rejected key by status, naming the env var and never the key", async () => {
    const probe = await probeModel(
      { name: "m", baseUrl: `${base}/v1`, apiKeyEnv: "MODEL_KEY" },
      envWith({ MODEL_KEY: "wrong" }),
    );
    expect(probe.ok).toBe(false);
    expect(probe.detail).toBe("HTTP 401 from GET /models");
    expect(probe.fix).toContain("MODEL_KEY");
    expect(JSON.stringify(probe)).not.toContain("wrong");
  });

  it("fails without calling when the key's env var is unset", async () => {
    const before = seen.length;
    const probe = await probeModel({ name: "m", baseUrl: `${base}/v1`, apiKeyEnv: "MISSING_KEY" }, envWith({}));
    expect(probe).toMatchObject({ ok: false, detail: "API key env var MISSING_KEY is not set" });
    expect(seen.length).toBe(before);
  });

  it("reports a wrong base URL by status", async () => {
    const probe = await probeModel({ name: "m", baseUrl: `${base}/nope`, apiKeyEnv: null }, envWith({}));
    expect(probe).toMatchObject({ ok: false, detail: "HTTP 404 from GET /models" });
  });

  it("reports a refused connection and a timeout", async () => {
    const refused = await probeModel(
      { name: "m", baseUrl: `http://127.0.0.1:${await freePort()}/v1`, apiKeyEnv: null },
      envWith({}),
    );
    expect(refused).toMatchObject({ ok: false, detail: "cannot connect: ECONNREFUSED" });
    const started = Date.now();
    const slow = await probeModel({ name: "m", baseUrl: `${base}/slow`, apiKeyEnv: null }, envWith({}), 300);
    expect(slow).toMatchObject({ ok: false, detail: "cannot connect: timed out" });
    expect(Date.now() - started).toBeLessThan(1_500);
  });
});

describe("displayUrl", () => {
  it("drops credentials and query strings", () => {
    expect(displayUrl("https://user:secret@models.example.com/v1?key=abc")).toBe("https://models.example.com/v1");
    expect(displayUrl("not a url")).toBe("(invalid URL)");
  });
});
