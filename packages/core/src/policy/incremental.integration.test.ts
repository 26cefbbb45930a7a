/**
 * The incremental reload: given the previous snapshot, loadPolicySnapshot reads only the rules
 * changed since (the "PolicyChange" log). Whatever the writes, it must equal a full read.
 */
import { createDb, type Db } from "@clawgate/db";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDemo } from "../seed/demo.ts";
import {
  applyRuleChanges,
  buildRuleSets,
  loadPolicySnapshot,
  pruneRuleChanges,
  type PolicySnapshot,
  type RuleSet,
} from "./snapshot.ts";

let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_core_incremental" });
  db = createDb(tdb.url, { max: 4 });
  await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

/** The rule sets as plain data, to compare an incremental snapshot with a full one. */
const plain = (sets: ReadonlyMap<string, RuleSet>) =>
  Object.fromEntries(
    [...sets]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, s]) => [
        k,
        {
          global: s.globalEffect,
          conversation: Object.fromEntries([...s.conversationRules.effects].sort()),
          conversationAllow: s.conversationRules.hasAllow,
          user: Object.fromEntries([...s.userRules.effects].sort()),
          userAllow: s.userRules.hasAllow,
        },
      ]),
  );
const skillRules = (snap: PolicySnapshot) =>
  Object.fromEntries(
    [...snap.skills.values()].map((s) => [s.key, [s.globalEffect, s.conversationRules, s.userRules]] as const),
  );

const SKILLS = ["kb.search", "ticket.create", "status", "help"] as const;
const SCOPES = ["GLOBAL", "CONVERSATION", "USER"] as const;
const op = fc.record({
  kind: fc.constantFrom("upsert", "upsert", "delete", "move"),
  skillKey: fc.constantFrom(...SKILLS),
  scope: fc.constantFrom(...SCOPES),
  subject: fc.constantFrom("a", "b", "c"),
  effect: fc.constantFrom("ALLOW" as const, "DENY" as const),
});

describe("incremental policy reload", () => {
  it("equals a full read after any sequence of rule writes, deletes and moves", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        async (batches) => {
          let previous = await loadPolicySnapshot(db);
          for (const batch of batches) {
            await db.$transaction(async (tx) => {
              for (const o of batch) {
                const subject = o.scope === "GLOBAL" ? "" : o.subject;
                const where = { skillKey_scope_subject: { skillKey: o.skillKey, scope: o.scope, subject } };
                if (o.kind === "upsert")
                  await tx.skillRule.upsert({
                    where,
                    create: { ...where.skillKey_scope_subject, effect: o.effect },
                    update: { effect: o.effect },
                  });
                else if (o.kind === "delete") await tx.skillRule.deleteMany({ where: where.skillKey_scope_subject });
                else {
                  // An update that moves a rule to another subject: both keys change.
                  const moved = o.scope === "GLOBAL" ? "" : `${o.subject}-moved`;
                  const exists = await tx.skillRule.findUnique({ where });
                  const target = await tx.skillRule.findUnique({
                    where: { skillKey_scope_subject: { skillKey: o.skillKey, scope: o.scope, subject: moved } },
                  });
                  if (exists && !target && moved !== subject)
                    await tx.skillRule.update({ where, data: { subject: moved } });
                }
              }
            });
            const incremental = await loadPolicySnapshot(db, previous);
            const full = await loadPolicySnapshot(db);
            expect(plain(incremental.ruleSets)).toEqual(plain(full.ruleSets));
            expect(skillRules(incremental)).toEqual(skillRules(full));
            previous = incremental;
          }
        },
      ),
      { numRuns: 20 },
    );
  }, 120_000);

  it("shares an unchanged skill's rules with the previous snapshot and copies a changed one's", () => {
    // applyRuleChanges itself: which keys a reload re-reads depends on every transaction of the
    // cluster that was in progress at the previous read (xmin), so identity is checked here.
    const previous = buildRuleSets([
      { skillKey: "kb.search", scope: "USER", subject: "u-share", effect: "DENY" },
      { skillKey: "status", scope: "USER", subject: "u-share", effect: "DENY" },
    ]);
    const next = applyRuleChanges(
      previous,
      [{ skillKey: "status", scope: "USER", subject: "u-share" }],
      [{ skillKey: "status", scope: "USER", subject: "u-share", effect: "ALLOW" }],
    );
    expect(next.get("kb.search")).toBe(previous.get("kb.search"));
    expect(next.get("status")).not.toBe(previous.get("status"));
    expect(previous.get("status")!.userRules.effects.get("u-share")).toBe("DENY"); // untouched
    expect(next.get("status")!.userRules).toMatchObject({ hasAllow: true });
    expect(next.get("status")!.userRules.effects.get("u-share")).toBe("ALLOW");
    // A skill whose last rule goes is dropped.
    expect(
      applyRuleChanges(next, [{ skillKey: "kb.search", scope: "USER", subject: "u-share" }], []).has("kb.search"),
    ).toBe(false);
  });

  it("sees a write committed after the previous read began, by a transaction that started before it", async () => {
    const client = new pg.Client({ connectionString: tdb.url });
    await client.connect();
    try {
      // A slow writer: its transaction has an id before the reload's snapshot, commits after it.
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO "SkillRule" (id, "skillKey", scope, subject, effect, "updatedAt") VALUES ('late-1', 'help', 'USER', 'u-late', 'DENY', now())`,
      );
      const during = await loadPolicySnapshot(db);
      expect(during.ruleSets.get("help")?.userRules.effects.get("u-late")).toBeUndefined();
      await client.query("COMMIT");
      const after = await loadPolicySnapshot(db, during);
      expect(after.ruleSets.get("help")?.userRules.effects.get("u-late")).toBe("DENY");
    } finally {
      await client.end();
    }
  });

  it("reads everything after a TRUNCATE, and prunes the log after an hour", async () => {
    const before = await loadPolicySnapshot(db);
    await db.$executeRawUnsafe(`TRUNCATE "SkillRule"`);
    const after = await loadPolicySnapshot(db, before);
    expect(after.ruleSets.size).toBe(0);
    expect([...after.skills.values()].every((s) => s.userRules.effects.size === 0)).toBe(true);

    await db.$executeRawUnsafe(`UPDATE "PolicyChange" SET at = at - interval '2 hours'`);
    expect(await pruneRuleChanges(db)).toBeGreaterThan(0);
    expect(await db.policyChange.count()).toBe(0);
  });
});
