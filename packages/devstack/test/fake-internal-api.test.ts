import { spawn } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { searchKb, startFakeInternalApi, type FakeInternalApi } from "../src/fake-internal-api.ts";

let api: FakeInternalApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe("fake internal API", () => {
  it("ranks KB articles by matched terms, in English and Chinese", () => {
    expect(searchKb("vpn troubleshooting", 3).map((r) => r.title)).toEqual([
      "VPN setup on macOS and Windows",
      "VPN 连接故障排查",
    ]);
    expect(searchKb("报销", 3).map((r) => r.url)).toEqual(["https://kb.example.internal/expenses"]);
    expect(searchKb("vpn", 1)).toHaveLength(1);
  });

  it("requires the bearer token when configured and records every request", async () => {
    api = await startFakeInternalApi({ port: 0, token: "t0k" });
    expect((await fetch(`${api.url}/tickets/OPS-1`)).status).toBe(401);
    const ok = await fetch(`${api.url}/tickets/OPS-1`, { headers: { authorization: "Bearer t0k" } });
    expect(await ok.json()).toEqual({
      id: "OPS-1",
      status: "open",
      owner: "alice",
      title: "Database backups failing on replica 2",
    });
    const recorded = (await (await fetch(`${api.url}/_fake/requests`)).json()) as { requests: unknown[] };
    expect(recorded.requests).toMatchObject([
      { path: "/tickets/OPS-1" },
      { path: "/tickets/OPS-1", authorization: "Bearer t0k" },
    ]);
  });

  it("validates ticket creation and injects faults over HTTP for a limited count", async () => {
    api = await startFakeInternalApi({ port: 0 });
    const post = (body: unknown) => fetch(`${api!.url}/tickets`, { method: "POST", body: JSON.stringify(body) });
    expect((await post({ project: "ops", title: "x" })).status).toBe(400);
    expect(await (await post({ project: "SEC", title: "Leaked key" })).json()).toEqual({
      id: "SEC-1",
      url: `${api.url}/tickets/SEC-1`,
    });
    await fetch(`${api.url}/_fake/fault`, { method: "POST", body: JSON.stringify({ mode: "error500", count: 2 }) });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${api.url}/kb/search?q=vpn`)).status);
    expect(statuses).toEqual([500, 500, 200]);
    api.setFault({ mode: "slow", delayMs: 300 });
    const started = Date.now();
    expect((await fetch(`${api.url}/tickets/OPS-3`)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("runs as a process on FAKE_INTERNAL_API_PORT", async () => {
    const probe = await startFakeInternalApi({ port: 0 });
    const port = probe.port;
    await probe.close();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(import.meta.dirname, "../src/fake-internal-api-server.ts")],
      {
        env: { ...process.env, FAKE_INTERNAL_API_PORT: String(port) },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => d.toString().includes("ready at") && resolve());
        child.once("exit", (code) => reject(new Error(`exited ${code}`)));
      });
      const res = await fetch(`http://127.0.0.1:${port}/kb/search?q=password&limit=1`);
      expect(await res.json()).toMatchObject({ results: [{ title: "Resetting your SSO password" }] });
    } finally {
      child.kill("SIGTERM");
    }
  });
});
