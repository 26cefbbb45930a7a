import type { Page } from "@playwright/test";
import type { Db } from "@clawgate/db";
import { DEMO_PASSWORD, expect, openIdpLoginForm, submitIdpLogin, test } from "./fixtures.ts";

async function signIn(page: Page, email: string, role: string) {
  await openIdpLoginForm(page);
  await submitIdpLogin(page, email, DEMO_PASSWORD);
  await expect(page.getByTestId("role-badge")).toHaveText(role);
}

/** A pending request as the runtime's agent creates one (apps/bot/src/agent/tool-call.ts). */
async function pendingRequest(db: Db, title: string) {
  return db.$transaction(async (tx) => {
    const invocation = await tx.skillInvocation.create({
      data: { traceId: `e2e-${title}`, conversationId: "cid-demo-group", userId: "staff-e2e", skillKey: "ticket.create", decision: "NEEDS_APPROVAL", reasons: ["skill.requires_approval"], outcome: "PENDING_APPROVAL", configRevision: 1 },
      select: { id: true },
    });
    return tx.approvalRequest.create({
      data: {
        invocationId: invocation.id,
        skillKey: "ticket.create",
        conversationId: "cid-demo-group",
        requesterId: "staff-e2e",
        input: { title, priority: "high" },
        expiresAt: new Date(Date.now() + 60 * 60_000),
        traceId: `e2e-${title}`,
        configRevision: 1,
      },
    });
  });
}

test("an approver approves a pending request with a note; it is stored with the decider and audited", async ({ page, db }, testInfo) => {
  const title = `Printer on fire ${Date.now().toString(36)}`;
  const request = await pendingRequest(db, title);
  await signIn(page, "approver@clawgate.local", "APPROVER");
  await page.goto("/approvals");
  await expect(page.getByRole("heading", { name: "Approvals", level: 1 })).toBeVisible();

  const card = page.getByRole("listitem").filter({ hasText: title });
  await expect(card.getByText("PENDING", { exact: true })).toBeVisible();
  await expect(card.getByText(/Requested by staff-e2e in Clawgate demo group/)).toBeVisible();
  await expect(card.getByLabel("Input of the ticket.create request")).toContainText(`"title": "${title}"`);
  await expect(card.getByText(/expires in (59|60) minutes/)).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("approvals.png"), fullPage: true });

  await card.getByRole("button", { name: "Approve" }).click();
  const dialog = page.getByRole("dialog", { name: "Approve ticket.create?" });
  await dialog.getByLabel(/Note/).fill("ok, urgent");
  await dialog.getByRole("button", { name: "Approve" }).click();
  await expect(page.getByRole("status").filter({ hasText: "request approved" })).toBeVisible();
  await expect(card.getByText("APPROVED", { exact: true })).toBeVisible();
  await expect(card.getByRole("button", { name: "Approve" })).toHaveCount(0);

  const stored = await db.approvalRequest.findUniqueOrThrow({ where: { id: request.id }, include: { decidedBy: true } });
  // The runtime may already have executed it (EXECUTED/FAILED) when it runs beside the console.
  expect(["APPROVED", "EXECUTED", "FAILED"]).toContain(stored.status);
  expect(stored).toMatchObject({ decisionNote: "ok, urgent" });
  expect(stored.decidedBy?.email).toBe("approver@clawgate.local");
  const audit = await db.auditLog.findFirstOrThrow({ where: { action: "approval.approve", targetId: request.id } });
  expect(audit.actorName).toBe("approver@clawgate.local");
  expect(JSON.stringify(audit.diff)).not.toContain(title); // metadata only, never the input

  // The status filter narrows the list.
  await page.getByRole("button", { name: /^Pending/ }).click();
  await expect(page.getByRole("listitem").filter({ hasText: title })).toHaveCount(0);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole("button", { name: "All" }).click();
  await expect(card).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("approvals-mobile.png"), fullPage: true });
});

test("a viewer sees pending requests but no approve or reject button", async ({ page, db }, testInfo) => {
  const title = `Viewer sees ${Date.now().toString(36)}`;
  const request = await pendingRequest(db, title);
  await signIn(page, "viewer@clawgate.local", "VIEWER");
  await page.goto("/approvals");
  const card = page.getByRole("listitem").filter({ hasText: title });
  await expect(card.getByText("PENDING", { exact: true })).toBeVisible();
  // (the "Approved" / "Rejected" filter chips are not decisions)
  await expect(page.getByRole("button", { name: "Approve", exact: true })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Reject", exact: true })).toHaveCount(0);
  await expect(page.locator("[data-mutates]")).toHaveCount(0);
  await page.screenshot({ path: testInfo.outputPath("approvals-viewer.png"), fullPage: true });
  expect(await db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({ status: "PENDING" });
});
