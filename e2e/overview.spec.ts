/**
 * Overview: replicas and "applied on N of M" follow the heartbeat rows within ~2 s, stale
 * heartbeats show offline, safe mode shows its reason, the 24 h counts match the database, and a
 * daily budget shows as a meter. The rows are written straight to the database (as the runtime
 * would) and removed afterwards; the console only reads them.
 */
import { randomBytes } from "node:crypto";
import { bumpConfigRevision } from "@clawgate/core";
import { CONSOLE_PAGE, expect, STORAGE_STATE, test } from "./fixtures.ts";

const tag = randomBytes(4).toString("hex");
const replicaIds = [`rt_e2e_${tag}_a`, `rt_e2e_${tag}_b`, `rt_e2e_${tag}_c`];
const budgetSubject = `e2e-overview-${tag}`;

// The admin's stored sign-in (auth.setup.ts) unless a test says otherwise.
test.use({ storageState: STORAGE_STATE.ADMIN });

test.afterAll(async ({ db }) => {
  await db.runtimeInstance.deleteMany({ where: { id: { in: replicaIds } } });
  await db.usageCounter.deleteMany({ where: { subject: budgetSubject } });
  await db.tokenBudget.deleteMany({ where: { subject: budgetSubject } });
  await db.inboundMessage.deleteMany({ where: { robotCode: `e2e-${tag}` } });
  await db.skillInvocation.deleteMany({ where: { traceId: `e2e-${tag}` } });
});

test("the overview shows replicas catching up with a new config revision within 2 s", async ({
  page,
  db,
}, testInfo) => {
  const errors: string[] = [];
  page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
  const latest = await db.configRevision.findFirstOrThrow({ orderBy: { id: "desc" } });
  const now = new Date();
  await db.runtimeInstance.createMany({
    data: [
      {
        id: replicaIds[0]!,
        hostname: `e2e-bot-1-${tag}`,
        pid: 101,
        version: "e2e",
        mode: "http",
        heartbeatAt: now,
        appliedRevision: latest.id,
      },
      {
        id: replicaIds[1]!,
        hostname: `e2e-bot-2-${tag}`,
        pid: 102,
        version: "e2e",
        mode: "stream",
        heartbeatAt: now,
        appliedRevision: latest.id,
      },
      // Last beat 5 minutes ago: offline, not counted.
      {
        id: replicaIds[2]!,
        hostname: `e2e-bot-3-${tag}`,
        pid: 103,
        version: "e2e",
        mode: "http",
        heartbeatAt: new Date(now.getTime() - 300_000),
        appliedRevision: latest.id - 1,
      },
    ],
  });
  // Some traffic in the last hour, and a daily budget that is 80 % used.
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  await db.inboundMessage.createMany({
    data: (["REPLIED", "REPLIED", "DENIED", "FAILED"] as const).map((status, i) => ({
      robotCode: `e2e-${tag}`,
      msgId: `m${i}`,
      channel: "HTTP" as const,
      conversationId: `cid-${tag}`,
      senderId: "s",
      msgType: "text",
      payload: {},
      status,
      traceId: `e2e-${tag}`,
    })),
  });
  await db.skillInvocation.createMany({
    data: [1, 2, 3].map(() => ({
      traceId: `e2e-${tag}`,
      conversationId: `cid-${tag}`,
      userId: "s",
      skillKey: `e2e.skill.${tag}`,
      decision: "ALLOW" as const,
      outcome: "SUCCESS" as const,
      configRevision: latest.id,
    })),
  });
  await db.tokenBudget.create({ data: { scope: "CONVERSATION", subject: budgetSubject, dailyTokens: 10_000 } });
  await db.usageCounter.create({
    data: {
      scope: "CONVERSATION",
      subject: budgetSubject,
      window: "DAY",
      windowStart: today,
      tokensUsed: 8_000n,
      requests: 4,
    },
  });

  await page.goto("/");
  await expect(page).toHaveURL(CONSOLE_PAGE("/overview")); // "/" is the overview
  await expect(page.getByRole("heading", { name: "Overview", level: 1 })).toBeVisible();
  await page.getByRole("link", { name: "Clawgate" }).click();
  await expect(page).toHaveURL(CONSOLE_PAGE("/overview"));

  const replicas = page.getByRole("region", { name: "Runtime replicas" });
  const applied = page.getByTestId("applied-status");
  await expect(replicas.getByRole("row", { name: new RegExp(`e2e-bot-3-${tag}`) })).toContainText("Offline");
  await expect(replicas.getByRole("row", { name: new RegExp(`e2e-bot-1-${tag}`) })).toContainText("Online");

  // A new config revision, bumped as every console mutation does (with its NOTIFY, so the suite's
  // real runtime reloads and reports it); our two stand-in replicas are behind until they report it.
  const next = {
    id: await db.$transaction((tx) => bumpConfigRevision(tx, { type: "SYSTEM", name: "e2e" }, `e2e revision ${tag}`)),
  };
  await expect(replicas).toContainText(`#${next.id}`, { timeout: 3_000 });
  await expect(applied).toHaveText(/Applied on \d+ of \d+ online replicas/);
  await expect(replicas.getByRole("row", { name: new RegExp(`e2e-bot-1-${tag}`) })).toContainText("(behind)");

  // Each replica reports the revision (the stand-ins here; the real runtime after its reload).
  await db.runtimeInstance.updateMany({
    where: { id: { in: replicaIds.slice(0, 2) } },
    data: { appliedRevision: next.id, heartbeatAt: new Date() },
  });
  const reported = Date.now();
  await expect(applied).toHaveText(/^Applied on all \d+ online replicas?$/, { timeout: 2_000 });
  testInfo.annotations.push({ type: "applied-visible-ms", description: String(Date.now() - reported) });

  // The counts are what the database holds for the window (this run's rows and any others').
  const activity = page.getByRole("region", { name: "Last 24 hours" });
  const since = new Date(Date.now() - 23 * 3_600_000);
  since.setUTCMinutes(0, 0, 0);
  const inbound = await db.inboundMessage.count({ where: { receivedAt: { gte: since } } });
  await expect(
    activity.getByText("Inbound messages", { exact: true }).locator("xpath=following-sibling::dd[1]"),
  ).toHaveText(inbound.toLocaleString("en"));
  await expect(activity.getByRole("img", { name: /Inbound messages per hour, last 24 h: \d+ in total/ })).toBeVisible();
  await expect(page.getByRole("region", { name: "Top skills (24 h)" })).toContainText(`e2e.skill.${tag}`);
  const meter = page.getByRole("meter", { name: `Conversation ${budgetSubject}` });
  await expect(meter).toHaveAttribute("aria-valuenow", "8000");
  await expect(meter).toHaveAttribute("aria-valuetext", "8,000 of 10,000 tokens (80%)");
  await expect(page.getByTestId("safe-mode-state")).toContainText("Off");

  await page.screenshot({ path: testInfo.outputPath("overview.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(applied).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("overview-mobile.png"), fullPage: true });
  expect(errors).toEqual([]);
});

test.describe("as viewer", () => {
  test.use({ storageState: STORAGE_STATE.VIEWER });

  test("safe mode shows its level, reason and expiry on the overview", async ({ page, db }, testInfo) => {
    const inForce = await db.safeModeEvent.count({ where: { endedAt: null } });
    test.skip(inForce > 0, "safe mode is already on in this database");
    const event = await db.safeModeEvent.create({
      data: {
        level: "MAINTENANCE",
        reason: `e2e model outage ${tag}`,
        actorType: "USER",
        actorName: "oli@e2e",
        expiresAt: new Date(Date.now() + 3_600_000),
      },
    });
    // A second, narrower activation: the card shows the strictest and says how many are in force.
    const scoped = await db.safeModeEvent.create({
      data: {
        level: "READ_ONLY",
        scopes: ["risk:WRITE"],
        reason: `e2e scoped ${tag}`,
        actorType: "USER",
        actorName: "oli@e2e",
      },
    });
    try {
      await page.goto("/");
      await expect(page).toHaveURL(CONSOLE_PAGE("/overview"));
      const card = page.getByRole("region", { name: "Safe mode" });
      await expect(card.getByTestId("safe-mode-state")).toHaveText("On: maintenance (no model calls)");
      await expect(card).toContainText(`e2e model outage ${tag}`);
      await expect(card).toContainText("by oli@e2e");
      await expect(card).toContainText("UTC");
      await expect(card.getByTestId("safe-mode-count")).toHaveText("2 activations in force; the strictest is shown.");
      await expect(card.getByRole("definition").first()).toHaveText("everything");
      await page.screenshot({ path: testInfo.outputPath("overview-safe-mode.png"), fullPage: true });
    } finally {
      await db.safeModeEvent.updateMany({
        where: { id: { in: [event.id, scoped.id] } },
        data: { endedAt: new Date(), endedBy: "e2e", endReason: "test over" },
      });
    }
  });
});
