/**
 * Safe mode against the whole stack: an operator pulls the switch in the console, the runtime
 * reloads, and the robot refuses a write request with the safe-mode message; off again, it
 * answers normally.
 */

import { expect, STORAGE_STATE, test } from "./fixtures.ts";
import { E2E, sayToRobot, untilRobotApplied } from "./stack.ts";

const OPERATOR = "operator@clawgate.local";
const WRITE_REQUEST = "create a ticket in OPS: printer is broken";
const MESSAGE = "E2E drill: the robot is in maintenance, back in an hour.";

// The operator's stored sign-in (auth.setup.ts) unless a test says otherwise.
test.use({ storageState: STORAGE_STATE.OPERATOR });

const texts = (replies: { text: string }[]) => replies.map((r) => r.text).join("\n");

test("an operator switches safe mode on: a write request is refused with the message; off again, it is not", async ({
  page,
  db,
}, testInfo) => {
  await untilRobotApplied(db);
  // An answer (whatever the write skill's state), not the safe-mode message; never silence.
  const normal = texts(await sayToRobot(WRITE_REQUEST));
  expect(normal).not.toBe("");
  expect(normal).not.toContain(MESSAGE);

  await page.goto("/safe-mode");
  const state = page.getByTestId("safe-mode-state");
  await expect(state).toContainText("Safe mode is off");

  // A reason is required (the browser's own check keeps the dialog closed).
  await page.getByRole("button", { name: "Turn safe mode on…" }).click();
  await expect(page.getByRole("dialog")).toHaveCount(0);

  await page.getByRole("radio", { name: /Maintenance/ }).check();
  await page.getByLabel("Reason (required)").fill("E2E drill");
  await page.getByLabel("Switch off by itself after").selectOption({ label: "1 hour" });
  await page.getByLabel("Message to users (optional)").fill(MESSAGE);
  await page.getByRole("button", { name: "Turn safe mode on…" }).click();
  const confirm = page.getByRole("dialog", { name: "Turn safe mode on?" });
  await expect(confirm).toContainText("It ends by itself after 1 hour.");
  await page.screenshot({ path: testInfo.outputPath("safe-mode-confirm.png") });
  await confirm.getByRole("button", { name: "Turn on" }).click();

  await expect(state).toContainText("Safe mode is ON: Maintenance");
  await expect(state).toContainText(`by ${OPERATOR}`);
  await expect(state).toContainText(MESSAGE);
  const on = await db.safeModeEvent.findFirstOrThrow({ where: { endedAt: null, kind: "SAFE_MODE" } });
  expect(on).toMatchObject({ level: "MAINTENANCE", message: MESSAGE, scopes: [] });
  expect(on).toMatchObject({ reason: "E2E drill", actorType: "USER", actorName: OPERATOR, endedAt: null });
  const ttl = on.expiresAt!.getTime() - on.startedAt.getTime();
  expect(Math.abs(ttl - 3_600_000)).toBeLessThan(5_000);
  await page.screenshot({ path: testInfo.outputPath("safe-mode-on.png"), fullPage: true });

  await untilRobotApplied(db);
  expect(texts(await sayToRobot(WRITE_REQUEST))).toContain(MESSAGE);

  await state.getByRole("button", { name: "Turn safe mode off on everything…" }).click();
  const off = page.getByRole("dialog", { name: "Turn safe mode off?" });
  await expect(off.getByRole("button", { name: "Turn off" })).toBeDisabled(); // a reason first
  await off.getByLabel("Why is it safe to end it?").fill("drill over");
  await off.getByRole("button", { name: "Turn off" }).click();
  await expect(state).toContainText("Safe mode is off");
  const history = page.getByRole("region", { name: "History" });
  await expect(history.getByRole("row", { name: /E2E drill/ })).toContainText(`by ${OPERATOR}: drill over`);

  const event = await db.safeModeEvent.findUniqueOrThrow({ where: { id: on.id } });
  expect(event).toMatchObject({ endedBy: OPERATOR, endReason: "drill over" });
  expect(
    (
      await db.auditLog.findMany({ where: { targetType: "safe_mode", targetId: event.id }, orderBy: { id: "asc" } })
    ).map((a) => [a.action, a.actorName]),
  ).toEqual([
    ["safe_mode.on", OPERATOR],
    ["safe_mode.off", OPERATOR],
  ]);

  await untilRobotApplied(db);
  const after = texts(await sayToRobot(WRITE_REQUEST));
  expect(after).not.toBe("");
  expect(after).not.toContain(MESSAGE);

  await page.screenshot({ path: testInfo.outputPath("safe-mode.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(state).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("safe-mode-mobile.png"), fullPage: true });
});

test.describe("as viewer", () => {
  test.use({ storageState: STORAGE_STATE.VIEWER });

  test("a viewer sees safe mode without controls, and the server refuses their switch", async ({ page, db }) => {
    await page.goto("/safe-mode");
    await expect(page.getByTestId("safe-mode-state")).toContainText("Safe mode is off");
    await expect(page.getByText("Operators and admins can switch safe mode.")).toBeVisible();
    await expect(page.getByRole("button", { name: /Turn safe mode/ })).toHaveCount(0);

    const res = await page.request.post(`${E2E.consoleUrl}/api/trpc/safeMode.set`, {
      headers: { "x-trpc-source": "console", origin: E2E.consoleUrl, "content-type": "application/json" },
      data: JSON.stringify({ json: { active: true, level: "MAINTENANCE", reason: "not allowed" } }),
    });
    expect(res.status()).toBe(403);
    expect(await db.safeModeEvent.count({ where: { endedAt: null } })).toBe(0);
  });
});
