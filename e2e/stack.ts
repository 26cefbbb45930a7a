/**
 * Where the e2e stack listens. Each port sits next to its `npm start` twin (packages/devstack/
 * src/ports.ts: console 3000, IdP 3100, fake DingTalk 3200, demo model 3300, internal API 3400,
 * runtime 8080), so `npm test` runs while `npm start` is up; E2E_*_PORT variables override.
 *
 * Besides the console and the IdP, the e2e run starts the robot's side (playwright.config.ts):
 * the demo model, the fake internal KB/ticket API, the fake DingTalk and the bot runtime
 * (`clawgate serve` in HTTP mode), all against the same DATABASE_URL, so a spec can change
 * something in the console and see the robot's answer change.
 */
import type { Db } from "@clawgate/db";

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

const consolePort = port("E2E_CONSOLE_PORT", 3001);
const oidcPort = port("E2E_OIDC_PORT", 3101);
const fakeDingtalkPort = port("E2E_FAKE_DINGTALK_PORT", 3201);
const demoModelPort = port("E2E_DEMO_MODEL_PORT", 3301);
const internalApiPort = port("E2E_INTERNAL_API_PORT", 3401);
const runtimePort = port("E2E_RUNTIME_PORT", 8081);

export const E2E = {
  consolePort,
  oidcPort,
  fakeDingtalkPort,
  demoModelPort,
  internalApiPort,
  runtimePort,
  consoleUrl: `http://localhost:${consolePort}`,
  issuer: `http://localhost:${oidcPort}`,
  fakeDingtalkUrl: `http://127.0.0.1:${fakeDingtalkPort}`,
  demoModelUrl: `http://127.0.0.1:${demoModelPort}/v1`,
  internalApiUrl: `http://127.0.0.1:${internalApiPort}`,
  runtimeUrl: `http://127.0.0.1:${runtimePort}`,
  /** The DingTalk app the runtime and the fake DingTalk share (e2e-only credentials). */
  dingtalkApp: { DINGTALK_APP_KEY: "dinge2eappkey", DINGTALK_APP_SECRET: "e2e-only-dingtalk-app-secret-0123456789" },
  /** The apiSecret HTTP-mode card callbacks are signed with (DINGTALK_CARD_CALLBACK_SECRET). */
  cardCallbackSecret: "e2e-only-card-callback-secret-0123",
  // The data key ring (field encryption at rest) of the runtime and the console: a fixed e2e-only key.
  dataKeys: "e2e1:ZTJlLW9ubHktZGF0YS1rZXktMDEyMzQ1Njc4OWFiY2Q=",
  /** The key the demo model expects; the seeded endpoint reads it from LOCAL_MODEL_API_KEY. */
  modelApiKey: "e2e-local-model-key",
} as const;

export interface RobotReply {
  via: string;
  text: string;
}

/**
 * Says `text` in a conversation through the fake DingTalk, the way `clawgate say` does: the fake
 * delivers a signed callback to the runtime and returns the replies the robot sent back.
 */
export async function sayToRobot(
  text: string,
  opts: { conversationId?: string; senderId?: string; timeoutMs?: number } = {},
): Promise<RobotReply[]> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const res = await fetch(new URL("/_fake/say", E2E.fakeDingtalkUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      conversationId: opts.conversationId ?? "cid-demo-group",
      text,
      senderId: opts.senderId,
      timeoutMs,
    }),
    signal: AbortSignal.timeout(timeoutMs + 5_000),
  });
  const body = (await res.json()) as { status?: number; replies?: RobotReply[]; message?: string };
  if (!res.ok) throw new Error(`the fake DingTalk answered HTTP ${res.status}: ${body.message ?? "no details"}`);
  if (body.status !== undefined && body.status !== 0 && (body.status < 200 || body.status > 299)) {
    throw new Error(`the runtime answered the callback with HTTP ${body.status}`);
  }
  return body.replies ?? [];
}

/**
 * Waits until the e2e runtime enforces the latest config revision (its heartbeat row reports
 * the revision it applied; it beats on every reload), so a message sent next meets the policy
 * the console just wrote.
 */
export async function untilRobotApplied(db: Db, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const latest = (await db.configRevision.findFirst({ orderBy: { id: "desc" }, select: { id: true } }))?.id ?? 0;
    // Live replicas only (a row left behind by a killed process stops beating).
    const runtimes = await db.runtimeInstance.findMany({
      where: { heartbeatAt: { gt: new Date(Date.now() - 120_000) } },
      select: { appliedRevision: true },
    });
    if (runtimes.length > 0 && runtimes.every((r) => (r.appliedRevision ?? -1) >= latest)) return latest;
    if (Date.now() > deadline)
      throw new Error(
        `the runtime did not apply config revision ${latest} within ${timeoutMs} ms (${JSON.stringify(runtimes)})`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Everything the robot has sent in a conversation so far, oldest first, as the fake DingTalk
 * recorded it (session webhooks, OpenAPI sends, callback responses): for answers that arrive
 * later than `sayToRobot` waits, such as an approval's outcome.
 */
export async function robotSent(conversationId: string): Promise<RobotReply[]> {
  const url = new URL("/_fake/sent", E2E.fakeDingtalkUrl);
  url.searchParams.set("conversationId", conversationId);
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`the fake DingTalk answered HTTP ${res.status} to GET /_fake/sent`);
  return ((await res.json()) as { sent: RobotReply[] }).sent;
}
