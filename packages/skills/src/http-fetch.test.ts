import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { httpFetch } from "./builtin.ts";
import { runSkill, type SkillResult } from "./handler.ts";
import { httpFetchHandler, requestPinned } from "./handlers/http-fetch.ts";
import { hostAllowed, refusedRange } from "./handlers/net-guard.ts";
import { testContext } from "./test-context.ts";

let server: Server;
let port: number;
const hits: { path: string; host: string | undefined }[] = [];
let closedEarly = 0;

function route(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? "/";
  hits.push({ path, host: req.headers.host });
  if (path === "/page") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(
      "<html><head><style>p{}</style><script>alert(1)</script></head><body><h1>Runbook</h1><p>Restart &amp; verify.</p></body></html>",
    );
  } else if (path.startsWith("/redirect?to=")) {
    res.writeHead(302, { location: decodeURIComponent(path.slice("/redirect?to=".length)) }).end();
  } else if (path === "/loop") {
    res.writeHead(301, { location: "/loop" }).end();
  } else if (path === "/big") {
    res.writeHead(200, { "content-type": "text/plain" });
    const chunk = Buffer.alloc(64 * 1024, "a");
    for (let i = 0; i < 16; i++) res.write(chunk);
    res.end();
  } else if (path === "/hang") {
    req.socket.on("close", () => closedEarly++);
  } else if (path === "/missing") {
    res.writeHead(404).end("nope");
  } else {
    res.writeHead(200, { "content-type": "text/plain" }).end(`secret at ${path}`);
  }
}

beforeAll(async () => {
  server = createServer(route);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  hits.length = 0;
});

const fetchWith = async (url: string, settings: Record<string, unknown>, manifest = httpFetch): Promise<SkillResult> =>
  (await runSkill(manifest, httpFetchHandler, { url }, testContext({ settings }))).result;
const errorOf = (r: SkillResult) => (r.ok ? "(ok)" : r.error);
const local = { allowedHosts: ["localhost"], allowPrivate: true };

describe("http.fetch", () => {
  it("fetches an allowlisted page and returns a text excerpt", async () => {
    const r = await fetchWith(`http://localhost:${port}/page`, local);
    expect(r).toMatchObject({
      ok: true,
      data: { status: 200, truncated: false, contentType: "text/html; charset=utf-8" },
    });
    expect(r.ok && r.content).toBe(`http://localhost:${port}/page (HTTP 200):\nRunbook Restart & verify.`);
    expect(hits).toEqual([{ path: "/page", host: `localhost:${port}` }]);
  });

  it("refuses a host that is not on the allowlist, and other schemes", async () => {
    expect(errorOf(await fetchWith(`http://127.0.0.1:${port}/page`, local))).toBe(
      "refused: 127.0.0.1 is not on the allowlist",
    );
    expect(errorOf(await fetchWith(`http://evil.example/`, { allowedHosts: ["*.corp.example"] }))).toMatch(
      /not on the allowlist/,
    );
    expect(errorOf(await fetchWith(`ftp://localhost:${port}/x`, local))).toBe(
      "refused: only http and https URLs (not ftp:)",
    );
    expect(errorOf(await fetchWith(`http://user:pw@localhost:${port}/page`, local))).toBe(
      "refused: URLs with credentials",
    );
    expect(hits).toEqual([]);
  });

  it("refuses a name that resolves to loopback unless private addresses are allowed", async () => {
    const r = await fetchWith(`http://localhost:${port}/page`, { allowedHosts: ["localhost"] });
    expect(r).toEqual({
      ok: false,
      error: "refused: localhost resolves to a loopback address (127.0.0.1), which is not allowed",
      retryable: false,
    });
    expect(hits).toEqual([]);
    expect((await fetchWith(`http://localhost:${port}/page`, local)).ok).toBe(true);
  });

  it("refuses loopback, metadata, private and mapped addresses even when allowlisted", async () => {
    const cases: [string, RegExp][] = [
      [`http://127.0.0.1:${port}/`, /loopback/],
      [`http://[::1]:${port}/`, /loopback/],
      [`http://169.254.169.254/latest/meta-data/`, /linkLocal/],
      [`http://10.1.2.3/`, /private/],
      [`http://192.168.1.1/`, /private/],
      [`http://[fd00::1]/`, /uniqueLocal/],
      [`http://[::ffff:127.0.0.1]:${port}/`, /ipv4Mapped/],
      [`http://0.0.0.0:${port}/`, /unspecified/],
    ];
    for (const [url, why] of cases) {
      const host = new URL(url).hostname.replace(/^\[(.*)\]$/, "$1");
      const r = await fetchWith(url, { allowedHosts: [host] });
      expect(errorOf(r), url).toMatch(why);
      expect(errorOf(r), url).toMatch(/^refused: /);
    }
    expect(hits).toEqual([]);
  });

  it("re-checks every redirect hop and follows at most 3", async () => {
    const to = (u: string) => `http://localhost:${port}/redirect?to=${encodeURIComponent(u)}`;
    const followed = await fetchWith(to(`http://localhost:${port}/page`), local);
    expect(followed).toMatchObject({ ok: true, data: { url: `http://localhost:${port}/page` } });

    const offList = await fetchWith(to(`http://127.0.0.1:${port}/secret`), local);
    expect(errorOf(offList)).toBe("refused: 127.0.0.1 is not on the allowlist");
    const metadata = await fetchWith(to("http://169.254.169.254/latest/meta-data/"), local);
    expect(errorOf(metadata)).toBe("refused: 169.254.169.254 is not on the allowlist");
    const scheme = await fetchWith(to("file:///etc/passwd"), local);
    expect(errorOf(scheme)).toBe("refused: only http and https URLs (not file:)");
    expect(hits.some((h) => h.path === "/secret")).toBe(false);

    hits.length = 0;
    expect(errorOf(await fetchWith(`http://localhost:${port}/loop`, local))).toBe("refused: more than 3 redirects");
    expect(hits).toHaveLength(4);
  });

  it("connects to the address it checked, not to a second DNS answer", async () => {
    // The name does not resolve at all: only the pinned address can reach the server.
    const res = await requestPinned(
      new URL(`http://rebind.invalid:${port}/pinned`),
      [{ address: "127.0.0.1", family: 4 }],
      new AbortController().signal,
    );
    res.resume();
    expect(res.statusCode).toBe(200);
    expect(hits).toEqual([{ path: "/pinned", host: `rebind.invalid:${port}` }]);
  });

  it("caps the body it reads", async () => {
    const big = await fetchWith(`http://localhost:${port}/big`, local);
    expect(big).toMatchObject({ ok: true, data: { bytes: 256 * 1024, truncated: true } });
    expect(big.ok && big.content.length).toBeLessThan(4_200);
    const small = await fetchWith(`http://localhost:${port}/big`, { ...local, maxBytes: 1_000 });
    expect(small).toMatchObject({ ok: true, data: { bytes: 1_000, truncated: true } });
  });

  it("gives up on a slow server at the skill's timeout and closes the connection", async () => {
    const started = Date.now();
    const r = await fetchWith(`http://localhost:${port}/hang`, local, { ...httpFetch, timeoutMs: 200 });
    expect(r).toEqual({ ok: false, error: "http.fetch timed out after 200 ms", retryable: true });
    expect(Date.now() - started).toBeLessThan(1_500);
    await expect.poll(() => closedEarly).toBe(1);
  });

  it("speaks https with certificate verification on (a self-signed certificate is refused)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clawgate-tls-"));
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          join(dir, "key.pem"),
          "-out",
          join(dir, "cert.pem"),
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=DNS:localhost",
        ],
        { stdio: "ignore" },
      );
      const tls = createHttpsServer(
        { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) },
        route,
      );
      await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
      const tlsPort = (tls.address() as AddressInfo).port;
      try {
        const r = await fetchWith(`https://localhost:${tlsPort}/page`, local);
        expect(r).toEqual({
          ok: false,
          error: `could not fetch localhost:${tlsPort}: DEPTH_ZERO_SELF_SIGNED_CERT`,
          retryable: true,
        });
        expect(hits).toEqual([]);
      } finally {
        tls.closeAllConnections();
        await new Promise<void>((r) => tls.close(() => r()));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports HTTP errors and unreachable hosts", async () => {
    expect(await fetchWith(`http://localhost:${port}/missing`, local)).toEqual({
      ok: false,
      error: `localhost:${port} answered HTTP 404`,
      retryable: false,
    });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await fetchWith(`http://localhost:${closedPort}/`, local);
    expect(r).toEqual({ ok: false, error: `could not fetch localhost:${closedPort}: ECONNREFUSED`, retryable: true });
  });
});

describe("net guard", () => {
  it("matches exact hosts and *.suffix wildcards", () => {
    const list = ["wiki.corp.example", "*.docs.example"];
    expect(hostAllowed("wiki.corp.example", list)).toBe(true);
    expect(hostAllowed("WIKI.corp.example.", list)).toBe(true);
    expect(hostAllowed("a.docs.example", list)).toBe(true);
    expect(hostAllowed("a.b.docs.example", list)).toBe(true);
    expect(hostAllowed("docs.example", list)).toBe(false);
    expect(hostAllowed("evildocs.example", list)).toBe(false);
    expect(hostAllowed("wiki.corp.example.evil", list)).toBe(false);
  });

  it("lets only public unicast addresses through", () => {
    expect(refusedRange("93.184.216.34")).toBeNull();
    expect(refusedRange("2606:4700::1")).toBeNull();
    expect(refusedRange("169.254.169.254")).toBe("linkLocal");
    expect(refusedRange("fe80::1")).toBe("linkLocal");
    expect(refusedRange("100.64.0.1")).toBe("carrierGradeNat");
    expect(refusedRange("172.16.0.1")).toBe("private");
    expect(refusedRange("::ffff:8.8.8.8")).toBe("ipv4Mapped");
    // NAT64 and 6to4 can carry a private IPv4 inside.
    expect(refusedRange("64:ff9b::a00:1")).not.toBeNull();
    expect(refusedRange("2002:a00:1::")).not.toBeNull();
  });
});
