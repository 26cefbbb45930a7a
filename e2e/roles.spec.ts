/**
 * Every demo role signs in through the local OIDC provider and opens every page of the console
 * (NAV_ITEMS): each page renders (200, an h1, no console errors) and is screenshotted per role.
 * The viewer sees no enabled mutating control (the `data-mutates` convention, e2e/README.md),
 * and the server refuses the viewer's mutations called directly, changing nothing.
 */
import type { BrowserContext, Page } from "@playwright/test";
import { DEMO_USERS } from "@clawgate/core";
import { recordConfigChange } from "@clawgate/core";
import { addSkillRule, removeSkillRule, type RuleChange } from "@clawgate/core/console/skills.ts";
import type { Db, Tx } from "@clawgate/db";
import { NAV_ITEMS } from "../apps/console/src/components/nav-items.ts";
import { CONSOLE_PAGE, expect, test } from "./fixtures.ts";
import { collectErrors, SAME_ORIGIN, signedInContext, trpcBody } from "./sign-in.ts";

const slug = (href: string) => href.replace(/^\//, "").replace(/\W+/g, "-") || "home";

/** Controls that change state and are usable: what a viewer must never see. */
const ENABLED_MUTATING =
  "[data-mutates]:not([disabled]):not([aria-disabled='true']), [role='switch']:not([disabled]):not([aria-disabled='true'])";

/** How many usable mutating controls the admin saw per page: the viewer check means something only if pages mark them. */
const adminMutating = new Map<string, number>();

for (const user of DEMO_USERS) {
  test.describe(`${user.role} (${user.email})`, () => {
    let context: BrowserContext;
    let page: Page;
    let errors: string[];

    test.beforeAll(async ({ browser }) => {
      ({ context, page } = await signedInContext(browser, user.role));
      errors = collectErrors(page);
    });
    test.afterAll(async () => {
      await context?.close();
    });

    for (const item of NAV_ITEMS) {
      // eslint-disable-next-line no-empty-pattern -- the page is the role's, from beforeAll
      test(`${item.label} renders`, async ({}, testInfo) => {
        errors.length = 0;
        const response = await page.goto(item.href);
        expect(response?.status(), `${item.href} answered`).toBe(200);
        await expect(page).toHaveURL(CONSOLE_PAGE(item.href));
        const h1 = page.getByRole("heading", { level: 1 });
        await expect(h1).toBeVisible();
        await expect(h1).not.toHaveText(/^404|not found/i);
        await expect(page.getByRole("banner").getByTestId("role-badge")).toHaveText(user.role);
        // Let client components settle (queries, hydration) before judging and photographing.
        await page.waitForLoadState("networkidle");
        await page.screenshot({
          path: testInfo.outputPath(`${user.role.toLowerCase()}-${slug(item.href)}.png`),
          fullPage: true,
        });

        const mutating = await page
          .locator(ENABLED_MUTATING)
          .evaluateAll((els) => els.map((e) => e.outerHTML.slice(0, 160)));
        testInfo.annotations.push({ type: "mutating controls", description: String(mutating.length) });
        if (user.role === "ADMIN") adminMutating.set(item.href, mutating.length);
        if (user.role === "VIEWER") expect(mutating, "mutating controls a viewer can use").toEqual([]);
        expect(errors).toEqual([]);
      });
    }

    if (user.role === "ADMIN") {
      test("the pages mark their mutating controls (data-mutates), so the viewer check is not vacuous", () => {
        const total = [...adminMutating.values()].reduce((a, b) => a + b, 0);
        expect(total, JSON.stringify(Object.fromEntries(adminMutating))).toBeGreaterThan(0);
      });
    }
  });
}

/** What a mutation would change: compared before and after the refused call. */
interface Attempt {
  path: string;
  input: (db: Db, viewerId: string) => Promise<unknown>;
  state: (db: Db, viewerId: string) => Promise<unknown>;
  /** Something for the mutation to act on, made before and removed after the attempt (returns the cleanup). */
  fixture?: (db: Db) => Promise<() => Promise<void>>;
}

/** A rule change as the console's mutation makes it (audit entry + config revision), for fixtures. */
async function ruleChange(
  db: Db,
  action: "skill.rule.add" | "skill.rule.remove",
  change: (tx: Tx) => Promise<RuleChange>,
): Promise<RuleChange> {
  return db.$transaction(async (tx) => {
    const r = await change(tx);
    await recordConfigChange(tx, {
      actor: { type: "SYSTEM", name: "e2e" },
      action,
      targetType: "skill",
      targetId: r.skillKey,
      diff: r.diff,
      summary: r.summary,
    });
    return r;
  });
}

const NO_LIMITS = { maxContextTokens: null, dailyTokens: null, monthlyTokens: null, requestsPerMinute: null };

/** The mutations of the routers as they stand; each is a viewer's attempt to change something real. */
const VIEWER_ATTEMPTS: Attempt[] = [
  {
    // Closing an incident's review is an operator's or an admin's.
    path: "incident.review",
    input: async (db) => ({
      id: (await db.incident.findFirst({ orderBy: { openedAt: "desc" } }))?.id ?? "no-such-incident",
      review: "nothing to see",
    }),
    state: (db) => db.incident.findMany({ orderBy: { id: "asc" } }),
  },
  {
    path: "skill.update",
    input: async () => ({ key: "kb.search", enabled: false }),
    state: (db) => db.skill.findUniqueOrThrow({ where: { key: "kb.search" } }),
  },
  {
    // Pointing http.fetch at a host of the viewer's choosing.
    path: "skill.updateSettings",
    input: async () => ({
      key: "http.fetch",
      settings: { allowedHosts: ["evil.example"], allowPrivateNetworks: true },
    }),
    state: (db) => db.skill.findUniqueOrThrow({ where: { key: "http.fetch" } }),
  },
  {
    path: "flag.toggle",
    input: async (db) => {
      const flag = await db.featureFlag.findFirstOrThrow({ orderBy: { key: "asc" } });
      return { key: flag.key, enabled: !flag.enabled };
    },
    state: (db) => db.featureFlag.findMany({ orderBy: { key: "asc" } }),
  },
  {
    path: "safeMode.set",
    input: async () => ({ active: true, reason: "a viewer tries to pull the switch" }),
    state: (db) => db.safeModeEvent.findMany({ orderBy: { id: "asc" } }),
  },
  {
    path: "safeMode.killSwitch",
    input: async () => ({ active: true, reason: "a viewer tries to pull the kill switch" }),
    state: (db) => db.safeModeEvent.findMany({ orderBy: { id: "asc" } }),
  },
  {
    path: "conversation.update",
    input: async (db) => {
      const conversation = await db.conversation.findFirstOrThrow({ orderBy: { id: "asc" } });
      return { id: conversation.id, status: conversation.status === "ENABLED" ? "DISABLED" : "ENABLED" };
    },
    state: (db) => db.conversation.findMany({ orderBy: { id: "asc" } }),
  },
  {
    // Privilege escalation: the viewer makes themself admin.
    path: "user.setRole",
    input: async (_db, viewerId) => ({ userId: viewerId, role: "ADMIN" }),
    state: (db) => db.user.findMany({ orderBy: { email: "asc" }, select: { id: true, role: true, disabledAt: true } }),
  },
  {
    path: "user.setDisabled",
    input: async (db) => ({
      userId: (await db.user.findUniqueOrThrow({ where: { email: "admin@clawgate.local" } })).id,
      disabled: true,
    }),
    state: (db) => db.user.findMany({ orderBy: { email: "asc" }, select: { id: true, role: true, disabledAt: true } }),
  },
  {
    path: "model.deleteEndpoint",
    input: async (db) => ({ id: (await db.modelEndpoint.findFirstOrThrow({ orderBy: { name: "asc" } })).id }),
    state: (db) => db.modelEndpoint.findMany({ orderBy: { name: "asc" } }),
  },
  {
    path: "budget.delete",
    input: async (db) => ({ id: (await db.tokenBudget.findFirstOrThrow({ orderBy: { id: "asc" } })).id }),
    state: (db) => db.tokenBudget.findMany({ orderBy: { id: "asc" } }),
  },
  {
    path: "skill.addRule",
    input: async () => ({
      skillKey: "kb.search",
      scope: "USER",
      subject: "u-e2e-viewer",
      effect: "ALLOW",
      note: "a viewer grants themself",
    }),
    state: (db) => db.skillRule.findMany({ orderBy: { id: "asc" } }),
  },
  {
    // A real rule to remove (on a skill no other spec counts rules of), gone again afterwards.
    path: "skill.removeRule",
    fixture: async (db) => {
      const rule = await ruleChange(db, "skill.rule.add", (tx) =>
        addSkillRule(tx, {
          skillKey: "help",
          scope: "USER",
          subject: "u-e2e-roles-fixture",
          effect: "DENY",
          note: "roles.spec fixture",
        }),
      );
      return async () => {
        await ruleChange(db, "skill.rule.remove", (tx) => removeSkillRule(tx, { id: rule.id }));
      };
    },
    input: async (db) => ({
      id: (await db.skillRule.findFirstOrThrow({ where: { subject: "u-e2e-roles-fixture" } })).id,
    }),
    state: (db) => db.skillRule.findMany({ orderBy: { id: "asc" } }),
  },
  {
    path: "flag.create",
    input: async () => ({ key: "e2e.viewer_flag", description: "a viewer adds a flag", enabled: true }),
    state: (db) => db.featureFlag.findMany({ orderBy: { key: "asc" } }),
  },
  {
    path: "budget.create",
    input: async () => ({ scope: "USER", subject: "u-e2e-viewer", ...NO_LIMITS, dailyTokens: 1_000_000 }),
    state: (db) => db.tokenBudget.findMany({ orderBy: { id: "asc" } }),
  },
  {
    path: "budget.update",
    input: async (db) => ({
      id: (await db.tokenBudget.findFirstOrThrow({ orderBy: { id: "asc" } })).id,
      ...NO_LIMITS,
      dailyTokens: 1,
    }),
    state: (db) => db.tokenBudget.findMany({ orderBy: { id: "asc" } }),
  },
  {
    // Pointing the robot at a model the viewer controls.
    path: "model.createEndpoint",
    input: async () => ({ name: "e2e_viewer_model", baseUrl: "http://127.0.0.1:9/v1", model: "viewer-model" }),
    state: (db) => db.modelEndpoint.findMany({ orderBy: { name: "asc" } }),
  },
  {
    path: "model.updateEndpoint",
    input: async (db) => ({
      id: (await db.modelEndpoint.findFirstOrThrow({ orderBy: { name: "asc" } })).id,
      baseUrl: "http://127.0.0.1:9/v1",
    }),
    state: (db) => db.modelEndpoint.findMany({ orderBy: { name: "asc" } }),
  },
  {
    path: "model.setRoute",
    input: async (db) => ({
      conversationId: null,
      modelEndpointId: (await db.modelEndpoint.findFirstOrThrow({ orderBy: { name: "asc" } })).id,
      maxToolRounds: 0,
    }),
    state: (db) => db.route.findMany({ orderBy: { id: "asc" } }),
  },
  {
    path: "model.deleteRoute",
    input: async (db) => ({ id: (await db.route.findFirstOrThrow({ orderBy: { id: "asc" } })).id }),
    state: (db) => db.route.findMany({ orderBy: { id: "asc" } }),
  },
  {
    // Approvers decide; a viewer's decision is refused before the request is even looked up.
    path: "approval.decide",
    input: async (db) => ({
      id: (await db.approvalRequest.findFirst({ orderBy: { id: "asc" } }))?.id ?? "no-such-request",
      approve: true,
    }),
    state: (db) => db.approvalRequest.findMany({ orderBy: { id: "asc" } }),
  },
];

/** Calls the mutation with this context's cookies (and the console's same-origin headers): 403 FORBIDDEN, nothing changed. */
async function expectRefused(context: BrowserContext, db: Db, attempt: Attempt, userId: string): Promise<void> {
  const before = await attempt.state(db, userId);
  const audit = await db.auditLog.count({ where: { action: { not: "auth.refused" } } });
  const revision = await db.configRevision.aggregate({ _max: { id: true } });

  const res = await context.request.post(`/api/trpc/${attempt.path}`, {
    headers: SAME_ORIGIN,
    data: trpcBody(await attempt.input(db, userId)),
  });
  expect(res.status(), attempt.path).toBe(403);
  const body = (await res.json()) as { error: { json: { data: { code: string } } } };
  expect(body.error.json.data.code, attempt.path).toBe("FORBIDDEN");

  expect(await attempt.state(db, userId), `${attempt.path} changed nothing`).toEqual(before);
  expect(
    await db.auditLog.count({ where: { action: { not: "auth.refused" } } }),
    `${attempt.path} wrote no audit entry but its refusal`,
  ).toBe(audit);
  expect(
    await db.auditLog.findFirst({ where: { action: "auth.refused", targetId: attempt.path }, orderBy: { id: "desc" } }),
    `${attempt.path}: the refusal is audited`,
  ).toMatchObject({ actorId: userId });
  expect(await db.configRevision.aggregate({ _max: { id: true } }), `${attempt.path} made no config revision`).toEqual(
    revision,
  );
}

const attempt = (path: string) => VIEWER_ATTEMPTS.find((a) => a.path === path)!;

/** Beyond the viewer: each role is refused what its procedures do not allow. */
const REFUSED_BY_ROLE: Record<string, string[]> = {
  VIEWER: VIEWER_ATTEMPTS.map((a) => a.path),
  OPERATOR: [
    "user.setRole",
    "skill.update",
    "skill.updateSettings",
    "approval.decide",
    "skill.addRule",
    "flag.create",
    "model.setRoute",
    "budget.update",
  ],
  APPROVER: [
    "safeMode.set",
    "conversation.update",
    "user.setRole",
    "skill.removeRule",
    "model.createEndpoint",
    "budget.create",
  ],
};

for (const [role, paths] of Object.entries(REFUSED_BY_ROLE)) {
  test(`the server refuses ${role}'s mutations beyond the role, called directly, and nothing changes`, async ({
    browser,
    db,
  }) => {
    const user = DEMO_USERS.find((u) => u.role === role)!;
    const { context } = await signedInContext(browser, user.role);
    try {
      const userId = (await db.user.findUniqueOrThrow({ where: { email: user.email } })).id;
      for (const path of paths) {
        const cleanup = await attempt(path).fixture?.(db);
        try {
          await expectRefused(context, db, attempt(path), userId);
        } finally {
          await cleanup?.();
        }
      }
    } finally {
      await context.close();
    }
  });
}
