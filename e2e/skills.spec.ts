/**
 * Skills page against the whole stack: the console writes, the runtime reloads, and the robot
 * (reached through the fake DingTalk, like `clawgate say`) answers the same request differently.
 */

import { expect, STORAGE_STATE, test } from "./fixtures.ts";
import { E2E, sayToRobot, untilRobotApplied } from "./stack.ts";

const ADMIN = "admin@clawgate.local";
const KB_REQUEST = "search the kb for vpn";

// The admin's stored sign-in (auth.setup.ts) unless a test says otherwise.
test.use({ storageState: STORAGE_STATE.ADMIN });

const texts = (replies: { text: string }[]) => replies.map((r) => r.text).join("\n");

test("an admin disables kb.search and the robot's answer to the same request changes; re-enabling restores it", async ({
  page,
  db,
}, testInfo) => {
  await untilRobotApplied(db);
  const before = texts(await sayToRobot(KB_REQUEST));
  expect(before).toContain("Result of kb_search");

  await page.goto("/skills");
  await expect(page.getByRole("heading", { name: "Skills", level: 1 })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("skills.png"), fullPage: true });

  const enabled = page.getByRole("switch", { name: "Enabled: kb.search" });
  await expect(enabled).toHaveAttribute("aria-checked", "true");
  await enabled.click();
  // Disabling asks first; Cancel changes nothing.
  const dialog = page.getByRole("dialog", { name: "Disable kb.search?" });
  await expect(dialog).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("skills-disable-confirm.png") });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(enabled).toHaveAttribute("aria-checked", "true");
  expect((await db.skill.findUniqueOrThrow({ where: { key: "kb.search" } })).enabled).toBe(true);

  await enabled.click();
  await dialog.getByRole("button", { name: "Disable" }).click();
  await expect(enabled).toHaveAttribute("aria-checked", "false");
  await expect(page.getByRole("status").filter({ hasText: 'Skill "kb.search": enabled true -> false' })).toBeVisible();
  expect((await db.skill.findUniqueOrThrow({ where: { key: "kb.search" } })).enabled).toBe(false);
  const audit = await db.auditLog.findFirstOrThrow({
    where: { action: "skill.update", targetId: "kb.search" },
    orderBy: { id: "desc" },
  });
  expect(audit).toMatchObject({ actorType: "USER", actorName: ADMIN, diff: { enabled: { from: true, to: false } } });
  expect(audit.configRevision).not.toBeNull();

  // The runtime reloads on the revision's NOTIFY; the same request no longer reaches the KB.
  await untilRobotApplied(db);
  const disabled = texts(await sayToRobot(KB_REQUEST));
  expect(disabled).not.toContain("Result of kb_search");
  expect(disabled).toContain(`You said: "${KB_REQUEST}"`);

  // Re-enabling needs no confirmation.
  await enabled.click();
  await expect(enabled).toHaveAttribute("aria-checked", "true");
  await expect(page.getByRole("status").filter({ hasText: 'Skill "kb.search": enabled false -> true' })).toBeVisible();
  await untilRobotApplied(db);
  expect(texts(await sayToRobot(KB_REQUEST))).toContain("Result of kb_search");

  await page.setViewportSize({ width: 390, height: 844 });
  await expect(enabled).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("skills-mobile.png"), fullPage: true });
});

test("a user DENY rule: the 'why?' check explains it, the robot enforces it, removing it restores", async ({
  page,
  db,
  tag,
}, testInfo) => {
  const mallory = `u-e2e-mallory-${tag}`;
  await page.goto("/skills/kb.search");
  await expect(page.getByRole("heading", { name: /kb\.search/, level: 1 })).toBeVisible();
  await expect(page.getByText("No rules")).toBeVisible();

  // Validation: a subject with a space is refused by the server with its message; nothing stored.
  await page.getByLabel("Effect").selectOption("DENY");
  await page.getByLabel("Scope").selectOption("USER");
  await page.getByLabel("User (DingTalk staffId)").fill("two words");
  await page.getByRole("button", { name: "Add rule" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "no spaces" })).toBeVisible();
  expect(await db.skillRule.count({ where: { skillKey: "kb.search" } })).toBe(0);

  await page.getByLabel("User (DingTalk staffId)").fill(mallory);
  await page.getByLabel("Note (optional)").fill("e2e");
  await page.getByRole("button", { name: "Add rule" }).click();
  const ruleRow = page.getByRole("row", { name: new RegExp(mallory) });
  await expect(ruleRow).toBeVisible();
  expect(
    await db.skillRule.findFirst({ where: { skillKey: "kb.search", scope: "USER", subject: mallory } }),
  ).toMatchObject({ effect: "DENY", note: "e2e" });

  // The "why?" check: the runtime's decide on a fresh snapshot.
  const check = page.getByRole("region", { name: /Can this user use kb\.search here/ });
  await check.getByLabel("Conversation id").fill("cid-demo-group");
  await check.getByLabel("User (DingTalk id)").fill(mallory);
  await check.getByRole("button", { name: "Check" }).click();
  const answer = check.getByTestId("access-answer");
  await expect(answer).toContainText("Denied");
  await expect(answer).toContainText(`A DENY rule blocks "kb.search" for user ${mallory}.`);
  // In words, and agreeing with the chat below: the skill is not offered to Mallory's turns.
  await expect(answer.getByTestId("access-in-chat")).toHaveText(
    'In the chat: The model is not offered "kb.search" in this user\'s turns here: the robot answers without it.',
  );
  await expect(answer).not.toContainText("rule.deny.user");
  await page.screenshot({ path: testInfo.outputPath("skill-detail-why.png"), fullPage: true });

  await check.getByLabel("User (DingTalk id)").fill("u-e2e-alice");
  await check.getByRole("button", { name: "Check" }).click();
  await expect(answer).toContainText("Allowed");
  await expect(answer).toContainText('Yes: user u-e2e-alice can use "kb.search" in cid-demo-group.');

  // An unknown conversation is denied (fail closed), and said so.
  await check.getByLabel("Conversation id").fill("cid-never-seen");
  await check.getByRole("button", { name: "Check" }).click();
  await expect(answer).toContainText("has never seen conversation cid-never-seen");

  // The robot agrees: Mallory's request gets no KB result, Alice's does.
  await untilRobotApplied(db);
  const denied = texts(await sayToRobot(KB_REQUEST, { senderId: mallory }));
  expect(denied).not.toContain("Result of kb_search");
  expect(denied).toContain(`You said: "${KB_REQUEST}"`); // answered, without the tool
  expect(texts(await sayToRobot(KB_REQUEST, { senderId: "u-e2e-alice" }))).toContain("Result of kb_search");

  await ruleRow.getByRole("button", { name: `Remove rule DENY user ${mallory}` }).click();
  const dialog = page.getByRole("dialog", { name: "Remove this rule?" });
  await dialog.getByRole("button", { name: "Remove rule" }).click();
  await expect(page.getByText("No rules")).toBeVisible();
  expect(await db.skillRule.count({ where: { skillKey: "kb.search" } })).toBe(0);
  const actions = (
    await db.auditLog.findMany({
      where: { targetId: "kb.search", action: { startsWith: "skill.rule." } },
      orderBy: { id: "asc" },
    })
  ).map((a) => a.action);
  expect(actions).toEqual(["skill.rule.add", "skill.rule.remove"]);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: testInfo.outputPath("skill-detail-mobile.png"), fullPage: true });
});

test("an admin edits http.fetch's settings: the manifest's schema refuses bad ones, listing each problem", async ({
  page,
  db,
}, testInfo) => {
  const original = (await db.skill.findUniqueOrThrow({ where: { key: "http.fetch" } })).settings;
  await page.goto("/skills/http.fetch");
  const section = page.getByRole("region", { name: "Skill settings" });
  await expect(section.getByText("allowPrivateNetworks")).toBeVisible();
  const editor = section.getByLabel("Settings (JSON)");
  try {
    await editor.fill('{"allowedHosts": ["wiki.corp.example:99999"], "allowPrivate": true}');
    await section.getByRole("button", { name: "Save settings" }).click();
    const alert = section.getByRole("alert");
    await expect(alert).toContainText("http.fetch settings.allowedHosts.0: must be a host name");
    await expect(alert).toContainText('http.fetch settings: Unrecognized key: "allowPrivate"');
    expect((await db.skill.findUniqueOrThrow({ where: { key: "http.fetch" } })).settings).toEqual(original);
    await page.screenshot({ path: testInfo.outputPath("skill-settings-refused.png"), fullPage: true });

    await editor.fill('{"allowedHosts": ["wiki.corp.example:8443"], "allowPrivateNetworks": true}');
    await section.getByRole("button", { name: "Save settings" }).click();
    await expect(page.getByText(/Skill "http\.fetch" settings: .*Live from config revision/)).toBeVisible();
    await expect(section.getByRole("alert")).toHaveCount(0);
    expect((await db.skill.findUniqueOrThrow({ where: { key: "http.fetch" } })).settings).toEqual({
      allowedHosts: ["wiki.corp.example:8443"],
      allowPrivateNetworks: true,
      maxBytes: 262144,
    });
    expect(
      await db.auditLog.findFirst({ where: { action: "skill.settings.update", targetId: "http.fetch" } }),
    ).toMatchObject({ targetType: "skill" });
  } finally {
    await db.skill.update({ where: { key: "http.fetch" }, data: { settings: original ?? {} } });
  }
});

test.describe("as viewer", () => {
  test.use({ storageState: STORAGE_STATE.VIEWER });

  test("a viewer reads skills without any control, and the server refuses their change", async ({ page, db }) => {
    await page.goto("/skills");
    await expect(page.getByRole("row", { name: /kb\.search/ })).toBeVisible();
    await expect(page.getByRole("switch")).toHaveCount(0);
    // No control that changes anything: the only checkbox is the read-only check's "after untrusted content" option.
    await expect(page.getByRole("checkbox")).toHaveCount(1);
    await expect(page.getByRole("checkbox", { name: /after the turn has read untrusted content/ })).toHaveCount(1);
    await page.goto("/skills/kb.search");
    await expect(page.getByRole("button", { name: "Add rule" })).toHaveCount(0);
    // Settings are shown, read-only.
    await expect(page.getByRole("region", { name: "Skill settings" }).getByLabel("Settings (JSON)")).toBeVisible();
    await expect(page.getByRole("button", { name: "Save settings" })).toHaveCount(0);

    const res = await page.request.post(`${E2E.consoleUrl}/api/trpc/skill.update`, {
      headers: { "x-trpc-source": "console", origin: E2E.consoleUrl, "content-type": "application/json" },
      data: JSON.stringify({ json: { key: "kb.search", enabled: false } }),
    });
    expect(res.status()).toBe(403);
    expect(JSON.stringify(await res.json())).toContain("Your role does not allow this.");
    expect((await db.skill.findUniqueOrThrow({ where: { key: "kb.search" } })).enabled).toBe(true);
  });
});
