/**
 * The console under `next start` for the benchmarks (bench/console, bench/scale): a production
 * build into a folder of its own, served on a bench-only port; one real sign-in through the local
 * OIDC provider (playwright-core + Debian's Chromium); then plain node:http requests with that
 * session cookie, timed to the first byte.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { NAV_ITEMS } from "../../apps/console/src/components/nav-items.ts";
import { DEMO_PASSWORD, DEMO_USERS } from "../../packages/core/src/index.ts";
import { startOidcProvider } from "@clawgate/devstack/oidc";
import { REPO_ROOT } from "@clawgate/devstack/paths";
import { DEMO_OIDC_CLIENT } from "@clawgate/devstack/ports";

const CONSOLE_DIR = path.join(REPO_ROOT, "apps/console");
const NEXT_BIN = path.join(REPO_ROOT, "node_modules/next/dist/bin/next");
export const ADMIN = DEMO_USERS.find((u) => u.role === "ADMIN")!;
/** The Overview's refetchInterval (apps/console/src/app/(console)/overview/overview-dashboard.tsx). */
export const OVERVIEW_POLL_MS = 1_500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Timed {
  status: number;
  /** Request written -> response status line and headers received. */
  ttfb: number;
  /** Request written -> last body byte. */
  total: number;
  bytes: number;
  body: Buffer;
}

export interface Target {
  name: string;
  path: string;
  headers: Record<string, string>;
  /** A response that proves the request did the real work (signed in, data returned). */
  check: (r: Timed) => boolean;
}

export interface Samples {
  ttfb: number[];
  total: number[];
  bytes: number;
  errors: number;
  firstError?: string;
}

export interface ConsoleBench {
  url: string;
  /** The console's env for a database (also what `next build` runs with). */
  env(databaseUrl: string): NodeJS.ProcessEnv;
  /** `next build` into the bench's dist folder, unless `build` is false and a build is there. */
  build(env: NodeJS.ProcessEnv, build: boolean): Promise<void>;
  start(env: NodeJS.ProcessEnv): Promise<ChildProcess>;
  stop(proc: ChildProcess): Promise<void>;
  /** The local OIDC provider with the demo users (close it when done). */
  startOidc(): Promise<{ close(): Promise<void> }>;
  signIn(): Promise<{ cookie: string; overviewQuery: string | null }>;
  get(pathname: string, headers: Record<string, string>): Promise<Timed>;
  measure(t: Target, clients: number, perClient: number): Promise<Samples>;
  /** Headers of a page request and of a tRPC request with the session cookie. */
  headers(cookie: string): { page: Record<string, string>; api: Record<string, string> };
  close(): void;
}

/** A page rendered for the signed-in admin carries the header's role badge; a redirect to sign-in does not. */
export const signedInPage = (r: Timed) => r.status === 200 && r.body.includes('data-testid="role-badge"');

/** Every page of the sidebar as a target. */
export const navTargets = (page: Record<string, string>): Target[] =>
  NAV_ITEMS.map((n) => ({ name: `${n.href} (${n.label})`, path: n.href, headers: page, check: signedInPage }));

/** A tRPC query as httpBatchLink sends it (superjson input). */
export function trpcQueryPath(procedure: string, input: unknown): string {
  const json = input === undefined ? { json: null, meta: { values: ["undefined"], v: 1 } } : { json: input };
  return `/api/trpc/${procedure}?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: json }))}`;
}

export function consoleBench(opts: { consolePort: number; oidcPort: number; distDir: string }): ConsoleBench {
  const url = `http://localhost:${opts.consolePort}`;
  const issuer = `http://localhost:${opts.oidcPort}`;
  // Keep-alive, one socket per client at most: a browser reuses its connection too.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const env = (databaseUrl: string): NodeJS.ProcessEnv => ({
    ...process.env,
    DATABASE_URL: databaseUrl,
    NEXTAUTH_URL: url,
    NEXTAUTH_SECRET: "bench-only-nextauth-secret-0123456789abcdef",
    OIDC_ISSUER: issuer,
    OIDC_CLIENT_ID: DEMO_OIDC_CLIENT.clientId,
    OIDC_CLIENT_SECRET: DEMO_OIDC_CLIENT.clientSecret,
    NEXT_TELEMETRY_DISABLED: "1",
    CLAWGATE_NEXT_DIST_DIR: opts.distDir,
  });

  const get = (pathname: string, headers: Record<string, string>): Promise<Timed> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = http.request(
        {
          host: "127.0.0.1",
          port: opts.consolePort,
          path: pathname,
          method: "GET",
          agent,
          headers: { host: `localhost:${opts.consolePort}`, ...headers },
        },
        (res) => {
          const ttfb = performance.now() - t0;
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const raw = Buffer.concat(chunks);
            const body = res.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
            resolve({ status: res.statusCode ?? 0, ttfb, total: performance.now() - t0, bytes: raw.length, body });
          });
          res.on("error", reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error(`GET ${pathname} timed out`)));
      req.on("error", reject);
      req.end();
    });

  return {
    url,
    env,
    get,
    async build(e, build) {
      if (!build && existsSync(path.join(CONSOLE_DIR, opts.distDir, "BUILD_ID"))) return;
      console.log(`building the console into apps/console/${opts.distDir} ...`);
      const b0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const p = spawn(process.execPath, [NEXT_BIN, "build"], { cwd: CONSOLE_DIR, env: e, stdio: "inherit" });
        p.once("error", reject);
        p.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`next build exited with ${code}`))));
      });
      console.log(`built in ${((performance.now() - b0) / 1000).toFixed(0)} s`);
    },
    /** `next start` in its own process group (so stopping it stops its workers too). */
    async start(e) {
      const proc = spawn(process.execPath, [NEXT_BIN, "start", "-p", String(opts.consolePort)], {
        cwd: CONSOLE_DIR,
        env: e,
        stdio: ["ignore", "ignore", "inherit"],
        detached: true,
      });
      let exited = false;
      proc.once("exit", () => (exited = true));
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (exited) throw new Error("next start exited before it served /api/health");
        const ok = await get("/api/health", {}).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok) return proc;
        if (Date.now() > deadline) throw new Error("next start did not serve /api/health within 60 s");
        await sleep(250);
      }
    },
    stop(proc) {
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        proc.once("exit", () => resolve());
        process.kill(-proc.pid!, "SIGTERM");
        setTimeout(() => {
          if (proc.exitCode === null && proc.signalCode === null) process.kill(-proc.pid!, "SIGKILL");
        }, 5_000).unref();
      });
    },
    startOidc: () =>
      startOidcProvider({
        port: opts.oidcPort,
        issuer,
        clients: [{ ...DEMO_OIDC_CLIENT, redirectUris: [`${url}/api/auth/callback/oidc`] }],
        users: DEMO_USERS.map((u) => ({ email: u.email, name: u.name, password: DEMO_PASSWORD })),
      }),
    async signIn() {
      const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--disable-dev-shm-usage",
        ],
      });
      try {
        const context = await browser.newContext({ baseURL: url });
        const page = await context.newPage();
        await page.goto("/");
        await page.getByRole("button", { name: "Sign in with SSO" }).click();
        await page.waitForURL(`${issuer}/interaction/**`);
        await page.getByLabel("Email").fill(ADMIN.email);
        await page.getByLabel("Password").fill(DEMO_PASSWORD);
        await page.getByRole("button", { name: "Sign in", exact: true }).click();
        const badge = page.getByRole("banner").getByTestId("role-badge");
        await badge.waitFor({ timeout: 30_000 });
        const role = (await badge.textContent())?.trim();
        if (role !== ADMIN.role) throw new Error(`signed in, but the console shows role ${role}`);
        // The exact request the Overview page polls (httpBatchLink, superjson).
        let overviewQuery: string | null = null;
        if (!page.url().endsWith("/overview")) await page.goto("/overview");
        try {
          const req = await page.waitForRequest(/\/api\/trpc\/overview\.get/, {
            timeout: 3 * OVERVIEW_POLL_MS + 5_000,
          });
          const u = new URL(req.url());
          overviewQuery = u.pathname + u.search;
        } catch {
          overviewQuery = null;
        }
        const cookies = await context.cookies(url);
        return { cookie: cookies.map((c) => `${c.name}=${c.value}`).join("; "), overviewQuery };
      } finally {
        await browser.close();
      }
    },
    async measure(t, clients, perClient) {
      const s: Samples = { ttfb: [], total: [], bytes: 0, errors: 0 };
      await Promise.all(
        Array.from({ length: clients }, async () => {
          for (let i = 0; i < perClient; i++) {
            try {
              const r = await get(t.path, t.headers);
              if (!t.check(r)) throw new Error(`HTTP ${r.status}, ${r.bytes} bytes: not the signed-in response`);
              s.ttfb.push(r.ttfb);
              s.total.push(r.total);
              s.bytes = r.bytes;
            } catch (error) {
              s.errors += 1;
              s.firstError ??= error instanceof Error ? error.message : String(error);
            }
          }
        }),
      );
      return s;
    },
    headers: (cookie) => ({
      page: { cookie, accept: "text/html,application/xhtml+xml", "accept-encoding": "gzip" },
      api: {
        cookie,
        accept: "*/*",
        "accept-encoding": "gzip",
        "x-trpc-source": "console",
        "content-type": "application/json",
      },
    }),
    close: () => agent.destroy(),
  };
}
