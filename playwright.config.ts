/**
 * End-to-end tests: real Chromium (Debian's, never a downloaded one), the real local OIDC
 * provider, the console built and started for production, and the PostgreSQL in DATABASE_URL
 * (`npm test` passes a fresh migrated database; globalSetup seeds the demo data into it).
 */
import path from "node:path";
import { defineConfig } from "@playwright/test";
import { DEMO_OIDC_CLIENT } from "@clawgate/devstack/ports";
import { E2E_SIGNIN_LIMIT_ENV } from "./e2e/signin-limits.ts";
import { E2E } from "./e2e/stack.ts";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  throw new Error("DATABASE_URL is not set: run `npm test`, or point it at a migrated database (see e2e/README.md)");
}

const { consoleUrl, issuer } = E2E;
const reportDir = process.env.CLAWGATE_TEST_REPORT_DIR;

const consoleEnv = {
  DATABASE_URL: databaseUrl,
  CLAWGATE_DATA_KEYS: E2E.dataKeys,
  NEXTAUTH_URL: consoleUrl,
  NEXTAUTH_SECRET: "e2e-only-nextauth-secret-0123456789abcdef",
  OIDC_ISSUER: issuer,
  OIDC_CLIENT_ID: DEMO_OIDC_CLIENT.clientId,
  OIDC_CLIENT_SECRET: DEMO_OIDC_CLIENT.clientSecret,
  NEXT_TELEMETRY_DISABLED: "1",
  // Its own build folder: a running `npm start` keeps serving apps/console/.next untouched.
  CLAWGATE_NEXT_DIST_DIR: ".next-e2e",
  // Sign-in rate limits the suite's own sign-ins stay under (security.spec.ts exceeds them on purpose).
  ...E2E_SIGNIN_LIMIT_ENV,
  // "Sign in with DingTalk" through the fake DingTalk's login (the app is the OAuth client).
  DINGTALK_OAUTH_CLIENT_ID: E2E.dingtalkApp.DINGTALK_APP_KEY,
  DINGTALK_OAUTH_CLIENT_SECRET: E2E.dingtalkApp.DINGTALK_APP_SECRET,
  DINGTALK_LOGIN_BASE: E2E.fakeDingtalkUrl,
  DINGTALK_API_BASE: E2E.fakeDingtalkUrl,
};

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  globalSetup: "./e2e/global-setup.ts",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: reportDir ? [["list"], ["json", { outputFile: path.join(reportDir, "e2e.json") }]] : [["list"]],
  use: {
    baseURL: consoleUrl,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
      ],
    },
  },
  projects: [
    // Signs in once per demo role and saves each storage state (e2e/auth.setup.ts); the specs
    // open pages with those instead of signing in every test.
    { name: "setup", testMatch: /auth\.setup\.ts$/, use: { browserName: "chromium" } },
    { name: "chromium", use: { browserName: "chromium" }, dependencies: ["setup"] },
  ],
  webServer: [
    // The robot's side, on e2e-only ports (see e2e/stack.ts), configured like `npm start`
    // (packages/devstack/src/start.ts) does.
    {
      name: "demo-model",
      command: "node --import tsx packages/devstack/src/demo-model-server.ts",
      // 401 without the key: Playwright counts a 401 as up.
      url: `${E2E.demoModelUrl}/models`,
      env: { DEMO_MODEL_PORT: String(E2E.demoModelPort), LOCAL_MODEL_API_KEY: E2E.modelApiKey },
      reuseExistingServer: false,
      timeout: 30_000,
    },
    {
      name: "internal-api",
      command: "node --import tsx packages/devstack/src/fake-internal-api-server.ts",
      url: `${E2E.internalApiUrl}/_fake/requests`,
      env: { FAKE_INTERNAL_API_PORT: String(E2E.internalApiPort) },
      reuseExistingServer: false,
      timeout: 30_000,
    },
    {
      name: "fake-dingtalk",
      command: "node --import tsx packages/devstack/src/fake-dingtalk-server.ts",
      url: `${E2E.fakeDingtalkUrl}/_fake/health`,
      env: {
        ...E2E.dingtalkApp,
        FAKE_DINGTALK_PORT: String(E2E.fakeDingtalkPort),
        FAKE_DINGTALK_CALLBACK_URL: `${E2E.runtimeUrl}/dingtalk/robot`,
        FAKE_DINGTALK_CARD_CALLBACK_URL: `${E2E.runtimeUrl}/dingtalk/card`,
        DINGTALK_CARD_CALLBACK_SECRET: E2E.cardCallbackSecret,
      },
      reuseExistingServer: false,
      timeout: 30_000,
    },
    {
      name: "runtime",
      command: "node apps/bot/bin/clawgate.mjs serve",
      url: `${E2E.runtimeUrl}/ready`,
      env: {
        DATABASE_URL: databaseUrl,
        CLAWGATE_DATA_KEYS: E2E.dataKeys,
        HOST: "127.0.0.1",
        PORT: String(E2E.runtimePort),
        LOG_LEVEL: "warn",
        DINGTALK_MODE: "http",
        ...E2E.dingtalkApp,
        DINGTALK_API_BASE: E2E.fakeDingtalkUrl,
        DINGTALK_WEBHOOK_HOSTS: new URL(E2E.fakeDingtalkUrl).host,
        // Approval cards: clicks come back signed to POST /dingtalk/card (registered at start).
        DINGTALK_CARD_CALLBACK_SECRET: E2E.cardCallbackSecret,
        DINGTALK_CARD_CALLBACK_URL: `${E2E.runtimeUrl}/dingtalk/card`,
        CLAWGATE_CONSOLE_URL: E2E.consoleUrl,
        // No LOCAL_MODEL_BASE_URL: web servers start before globalSetup, and the runtime would
        // create the default model from it before the seed creates local_chat with its budgets.
        // The seed points local_chat at the e2e demo model; its key comes from here.
        LOCAL_MODEL_API_KEY: E2E.modelApiKey,
      },
      reuseExistingServer: false,
      timeout: 60_000,
      // pino logs to stdout: the runtime's warnings and errors show in the run's output.
      stdout: "pipe",
      gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
    },
    {
      name: "oidc",
      command: "npx tsx packages/devstack/src/oidc-server.ts",
      url: `${issuer}/.well-known/openid-configuration`,
      env: { NEXTAUTH_URL: consoleUrl, OIDC_PORT: String(E2E.oidcPort) },
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: "pipe",
    },
    {
      name: "console",
      command: `npm run build && npx next start -p ${E2E.consolePort}`,
      cwd: "apps/console",
      url: `${consoleUrl}/api/health`,
      env: consoleEnv,
      reuseExistingServer: false,
      timeout: 240_000,
      gracefulShutdown: { signal: "SIGTERM", timeout: 5_000 },
    },
  ],
});
