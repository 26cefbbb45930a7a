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
import { createHttpFetchHandler, httpFetchHandler, requestPinned } from "./handlers/http-fetch.ts";
import { addressRefusal, allowlistRefusal, parseHostEntry } from "./handlers/net-guard.ts";
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

/**
 * Names resolve through a stub (never DNS), and the connection goes through a stub connector that
 * records the checked addresses it was given and then reaches the loopback test server in their
 * place: the handler's decisions are real, and no traffic leaves this machine.
 */
function network(dns: Record<string, string[]>) {
  const connects: { url: string; addresses: string[] }[] = [];
  const lookups: string[] = [];
  const handler = createHttpFetchHandler({
    resolve: async (host) => {
      lookups.push(host);
      const addresses = dns[host];
      if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
      return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    },
    connect: (url, target, signal) => {
      connects.push({ url: url.href, addresses: target.map((t) => t.address) });
      return requestPinned(url, [{ address: "127.0.0.1", family: 4 }], signal);
    },
  });
  const fetchWith = async (url: string, settings: Record<string, unknown>, manifest = httpFetch) =>
    (await runSkill(manifest, handler, { url }, testContext({ settings }))).result;
  return { fetchWith, connects, lookups };
}

const errorOf = (r: SkillResult) => (r.ok ? "(ok)" : r.error);
/** wiki.corp.example is a private-network host (10.0.0.5); the test server stands in for it. */
const WIKI = "wiki.corp.example";
const wikiNet = () => network({ [WIKI]: ["10.0.0.5"] });
const wikiSettings = () => ({ allowedHosts: [`${WIKI}:${port}`], allowPrivateNetworks: true });

describe("http.fetch", () => {
  it("fetches an allowlisted page on a private network, connecting to the address it resolved", async () => {
    const net = wikiNet();
    const r = await net.fetchWith(`http://${WIKI}:${port}/page`, wikiSettings());
    expect(r).toMatchObject({
      ok: true,
      data: { status: 200, truncated: false, contentType: "text/html; charset=utf-8" },
    });
    expect(r.ok && r.content).toBe(`http://${WIKI}:${port}/page (HTTP 200):\nRunbook Restart & verify.`);
    expect(net.connects).toEqual([{ url: `http://${WIKI}:${port}/page`, addresses: ["10.0.0.5"] }]);
    expect(hits).toEqual([{ path: "/page", host: `${WIKI}:${port}` }]);
  });

  it("refuses a private-network address unless allowPrivateNetworks is on", async () => {
    const net = wikiNet();
    const r = await net.fetchWith(`http://${WIKI}:${port}/page`, { allowedHosts: [`${WIKI}:${port}`] });
    expect(errorOf(r)).toBe(`refused: ${WIKI} resolves to 10.0.0.5 (private, and private networks are not allowed)`);
    expect(net.connects).toEqual([]);
  });

  it("refuses loopback, link-local, metadata, unspecified and multicast addresses even with private networks allowed, before connecting", async () => {
    const cases: [string, string][] = [
      ["127.0.0.1", "loopback"],
      ["::1", "loopback"],
      ["169.254.169.254", "cloud metadata"],
      ["fe80::1", "linkLocal"],
      ["0.0.0.0", "unspecified"],
      ["224.0.0.1", "multicast"],
      ["::ffff:127.0.0.1", "loopback (IPv4-mapped)"],
      ["fd00:ec2::254", "cloud metadata"],
      ["100.100.100.200", "cloud metadata"],
      ["100.64.0.1", "carrierGradeNat"],
    ];
    for (const [address, why] of cases) {
      const net = network({ [WIKI]: [address] });
      const r = await net.fetchWith(`http://${WIKI}:${port}/page`, wikiSettings());
      expect(errorOf(r), address).toBe(`refused: ${WIKI} resolves to ${address} (${why})`);
      expect(net.lookups, address).toEqual([WIKI]);
      expect(net.connects, address).toEqual([]);
    }
    expect(hits).toEqual([]);
  });

  it("refuses a name when any of its addresses is refused", async () => {
    const net = network({ [WIKI]: ["10.0.0.5", "127.0.0.1"] });
    expect(errorOf(await net.fetchWith(`http://${WIKI}:${port}/`, wikiSettings()))).toBe(
      `refused: ${WIKI} resolves to 127.0.0.1 (loopback)`,
    );
    expect(net.connects).toEqual([]);
  });

  it("refuses the real name localhost (system resolver) even with private networks allowed", async () => {
    const r = await runSkill(
      httpFetch,
      httpFetchHandler,
      { url: `http://localhost:${port}/page` },
      testContext({ settings: { allowedHosts: [`localhost:${port}`], allowPrivateNetworks: true } }),
    );
    expect(errorOf(r.result)).toMatch(/^refused: localhost resolves to (127\.0\.0\.1|::1) \(loopback\)$/);
    expect(hits).toEqual([]);
  });

  it("refuses a host that is not on the allowlist, a port not on its entry, and other schemes", async () => {
    const net = wikiNet();
    expect(errorOf(await net.fetchWith(`http://10.0.0.5:${port}/page`, wikiSettings()))).toBe(
      "refused: 10.0.0.5 is not on the allowlist",
    );
    expect(errorOf(await net.fetchWith(`http://evil.example/`, { allowedHosts: ["*.corp.example"] }))).toBe(
      "refused: evil.example is not on the allowlist",
    );
    // The entry names a port: no other port of that host, default ones included.
    expect(errorOf(await net.fetchWith(`http://${WIKI}:5432/`, wikiSettings()))).toBe(
      `refused: port 5432 of ${WIKI} is not on the allowlist`,
    );
    expect(errorOf(await net.fetchWith(`http://${WIKI}/`, wikiSettings()))).toBe(
      `refused: port 80 of ${WIKI} is not on the allowlist`,
    );
    // No port on the entry: the scheme's default only.
    const bare = { allowedHosts: [WIKI], allowPrivateNetworks: true };
    expect(errorOf(await net.fetchWith(`http://${WIKI}:${port}/`, bare))).toBe(
      `refused: port ${port} of ${WIKI} is not on the allowlist`,
    );
    expect(errorOf(await net.fetchWith(`http://${WIKI}:443/`, bare))).toBe(
      `refused: port 443 of ${WIKI} is not on the allowlist`,
    );
    expect(errorOf(await net.fetchWith(`ftp://${WIKI}:${port}/x`, wikiSettings()))).toBe(
      "refused: only http and https URLs (not ftp:)",
    );
    expect(errorOf(await net.fetchWith(`http://user:pw@${WIKI}:${port}/page`, wikiSettings()))).toBe(
      "refused: URLs with credentials",
    );
    expect(net.lookups).toEqual([]);
    expect(net.connects).toEqual([]);
    expect(hits).toEqual([]);
  });

  it("re-checks host, port and address at every redirect hop and follows at most 3", async () => {
    const net = network({
      [WIKI]: ["10.0.0.5"],
      "docs.corp.example": ["10.0.0.6"],
      "loop.corp.example": ["127.0.0.1"],
      "meta.corp.example": ["169.254.169.254"],
    });
    const settings = {
      allowedHosts: [`*.corp.example:${port}`, "169.254.169.254", "[::1]"],
      allowPrivateNetworks: true,
    };
    const to = (u: string) => `http://${WIKI}:${port}/redirect?to=${encodeURIComponent(u)}`;

    const followed = await net.fetchWith(to(`http://docs.corp.example:${port}/page`), settings);
    expect(followed).toMatchObject({ ok: true, data: { url: `http://docs.corp.example:${port}/page` } });
    expect(net.connects.map((c) => c.addresses)).toEqual([["10.0.0.5"], ["10.0.0.6"]]);

    const refusals: [string, string][] = [
      [`http://loop.corp.example:${port}/secret`, "loop.corp.example resolves to 127.0.0.1 (loopback)"],
      [`http://meta.corp.example:${port}/secret`, "meta.corp.example resolves to 169.254.169.254 (cloud metadata)"],
      ["http://169.254.169.254/latest/meta-data/", "address 169.254.169.254 (cloud metadata)"],
      [`http://[::1]/secret`, "address ::1 (loopback)"],
      [`http://${WIKI}:5432/secret`, `port 5432 of ${WIKI} is not on the allowlist`],
      [`http://127.0.0.1:${port}/secret`, "127.0.0.1 is not on the allowlist"],
      ["file:///etc/passwd", "only http and https URLs (not file:)"],
    ];
    for (const [location, why] of refusals) {
      net.connects.length = 0;
      expect(errorOf(await net.fetchWith(to(location), settings)), location).toBe(`refused: ${why}`);
      // Only the first hop (the allowed host) was connected to.
      expect(
        net.connects.map((c) => c.addresses),
        location,
      ).toEqual([["10.0.0.5"]]);
    }
    expect(hits.some((h) => h.path === "/secret")).toBe(false);

    hits.length = 0;
    expect(errorOf(await net.fetchWith(`http://${WIKI}:${port}/loop`, settings))).toBe(
      "refused: more than 3 redirects",
    );
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
    const { fetchWith } = wikiNet();
    const big = await fetchWith(`http://${WIKI}:${port}/big`, wikiSettings());
    expect(big).toMatchObject({ ok: true, data: { bytes: 256 * 1024, truncated: true } });
    expect(big.ok && big.content.length).toBeLessThan(4_200);
    const small = await fetchWith(`http://${WIKI}:${port}/big`, { ...wikiSettings(), maxBytes: 1_000 });
    expect(small).toMatchObject({ ok: true, data: { bytes: 1_000, truncated: true } });
  });

  it("gives up on a slow server at the skill's timeout and closes the connection", async () => {
    const started = Date.now();
    const r = await wikiNet().fetchWith(`http://${WIKI}:${port}/hang`, wikiSettings(), {
      ...httpFetch,
      timeoutMs: 200,
    });
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
        const r = await wikiNet().fetchWith(`https://${WIKI}:${tlsPort}/page`, {
          allowedHosts: [`${WIKI}:${tlsPort}`],
          allowPrivateNetworks: true,
        });
        expect(r).toEqual({
          ok: false,
          error: `could not fetch ${WIKI}:${tlsPort}: DEPTH_ZERO_SELF_SIGNED_CERT`,
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
    const { fetchWith } = wikiNet();
    expect(await fetchWith(`http://${WIKI}:${port}/missing`, wikiSettings())).toEqual({
      ok: false,
      error: `${WIKI}:${port} answered HTTP 404`,
      retryable: false,
    });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await fetchWith(`http://${WIKI}:${closedPort}/`, {
      allowedHosts: [`${WIKI}:${closedPort}`],
      allowPrivateNetworks: true,
    });
    expect(r).toEqual({ ok: false, error: `could not fetch ${WIKI}:${closedPort}: ECONNREFUSED`, retryable: true });
  });
});

describe("net guard", () => {
  it("parses allowlist entries: host, *.suffix, IP, [IPv6], each with an optional port", () => {
    const entries: [string, ReturnType<typeof parseHostEntry>][] = [
      ["wiki.corp.example", { host: "wiki.corp.example", wildcard: false, port: undefined }],
      ["Wiki.Corp.Example:8443", { host: "wiki.corp.example", wildcard: false, port: 8443 }],
      ["*.docs.example:8080", { host: ".docs.example", wildcard: true, port: 8080 }],
      ["10.0.0.5", { host: "10.0.0.5", wildcard: false, port: undefined }],
      ["[fd00:0::1]:8080", { host: "fd00::1", wildcard: false, port: 8080 }],
      ["wiki.corp.example:0", undefined],
      ["wiki.corp.example:65536", undefined],
      ["wiki.corp.example:", undefined],
      ["fd00::1", undefined],
      ["*.[fd00::1]", undefined],
      ["127.1", undefined],
      ["*.0.0.1", undefined],
      ["http://wiki.corp.example", undefined],
      ["wiki.corp.example/path", undefined],
      ["user@wiki.corp.example", undefined],
      ["*", undefined],
      ["", undefined],
    ];
    for (const [entry, parsed] of entries) expect(parseHostEntry(entry), entry).toEqual(parsed);
  });

  it("matches host and port against the allowlist", () => {
    const list = ["wiki.corp.example", "*.docs.example:8080", "[fd00::1]:8443"];
    const cases: [string, string | null][] = [
      ["https://wiki.corp.example/", null],
      ["http://wiki.corp.example/", null],
      ["https://WIKI.corp.example./", null],
      ["https://wiki.corp.example:8443/", "port 8443 of wiki.corp.example is not on the allowlist"],
      ["http://wiki.corp.example:443/", "port 443 of wiki.corp.example is not on the allowlist"],
      ["http://a.docs.example:8080/", null],
      ["https://a.b.docs.example:8080/", null],
      ["http://a.docs.example/", "port 80 of a.docs.example is not on the allowlist"],
      ["http://docs.example:8080/", "docs.example is not on the allowlist"],
      ["http://evildocs.example:8080/", "evildocs.example is not on the allowlist"],
      ["http://wiki.corp.example.evil/", "wiki.corp.example.evil is not on the allowlist"],
      ["http://[fd00:0:0::1]:8443/", null],
      ["http://[fd00::1]/", "port 80 of [fd00::1] is not on the allowlist"],
    ];
    for (const [url, why] of cases) expect(allowlistRefusal(new URL(url), list), url).toBe(why);
  });

  it("admits public unicast always, RFC 1918 and fc00::/7 only with private networks allowed, nothing else ever", () => {
    // [address, refusal without private networks, refusal with them]
    const cases: [string, string | null, string | null][] = [
      ["93.184.216.34", null, null],
      ["2606:4700::1", null, null],
      ["::ffff:8.8.8.8", null, null],
      ["10.0.0.5", "private, and private networks are not allowed", null],
      ["172.16.0.1", "private, and private networks are not allowed", null],
      ["172.31.255.254", "private, and private networks are not allowed", null],
      ["192.168.1.1", "private, and private networks are not allowed", null],
      ["fd12:3456::1", "uniqueLocal, and private networks are not allowed", null],
      ["fc00::1", "uniqueLocal, and private networks are not allowed", null],
      ["::ffff:10.0.0.5", "private (IPv4-mapped), and private networks are not allowed", null],
      ["172.32.0.1", null, null],
      ["127.0.0.1", "loopback", "loopback"],
      ["127.255.0.9", "loopback", "loopback"],
      ["::1", "loopback", "loopback"],
      ["::ffff:127.0.0.1", "loopback (IPv4-mapped)", "loopback (IPv4-mapped)"],
      ["169.254.169.254", "cloud metadata", "cloud metadata"],
      ["::ffff:169.254.169.254", "cloud metadata (IPv4-mapped)", "cloud metadata (IPv4-mapped)"],
      ["169.254.170.2", "cloud metadata", "cloud metadata"],
      ["169.254.1.1", "linkLocal", "linkLocal"],
      ["fe80::1", "linkLocal", "linkLocal"],
      ["fd00:ec2::254", "cloud metadata", "cloud metadata"],
      ["100.100.100.200", "cloud metadata", "cloud metadata"],
      ["168.63.129.16", "cloud platform", "cloud platform"],
      ["0.0.0.0", "unspecified", "unspecified"],
      ["0.1.2.3", "unspecified", "unspecified"],
      ["::", "unspecified", "unspecified"],
      ["255.255.255.255", "broadcast", "broadcast"],
      ["224.0.0.1", "multicast", "multicast"],
      ["239.255.255.250", "multicast", "multicast"],
      ["ff02::1", "multicast", "multicast"],
      ["100.64.0.1", "carrierGradeNat", "carrierGradeNat"],
      ["240.0.0.1", "reserved", "reserved"],
      ["192.0.0.192", "reserved", "reserved"],
      ["198.18.0.1", "reserved", "reserved"],
      ["2001:db8::1", "reserved", "reserved"],
      ["fec0::1", "deprecatedSiteLocal", "deprecatedSiteLocal"],
      ["::7f00:1", "reserved (IPv4-compatible)", "reserved (IPv4-compatible)"],
      // NAT64, 6to4 and Teredo can carry a private or loopback IPv4 inside.
      ["64:ff9b::a00:1", "rfc6052", "rfc6052"],
      ["64:ff9b::7f00:1", "rfc6052", "rfc6052"],
      ["2002:7f00:1::", "6to4", "6to4"],
      ["2001:0:4136:e378::1", "teredo", "teredo"],
      ["wiki.corp.example", "not an IP address", "not an IP address"],
    ];
    for (const [address, closed, open] of cases) {
      expect(addressRefusal(address, false), `${address} without private networks`).toBe(closed);
      expect(addressRefusal(address, true), `${address} with private networks`).toBe(open);
    }
  });
});
