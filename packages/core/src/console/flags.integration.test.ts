import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { decide } from "../policy/decide.ts";
import { loadPolicySnapshot } from "../policy/snapshot.ts";
import { DEMO_CONVERSATION_ID, seedDemo } from "../seed/demo.ts";
import { createFlag, listFlags, setFlag } from "./flags.ts";
import { DomainError } from "../errors.ts";

let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_core_flags" });
  db = createDb(tdb.url, { max: 4 });
  await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const refusal = async (p: Promise<unknown>) => {
  const err = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
};
const ctx = () => ({ conversationId: DEMO_CONVERSATION_ID, userId: "u", now: new Date() });

describe("flags", () => {
  it("lists the seeded flags with what they gate", async () => {
    const flags = await listFlags(db);
    expect(flags.map((f) => [f.key, f.enabled])).toEqual([
      ["agent.tools", true],
      ["approvals.dingtalk_cards", false],
      ["replies.markdown", true],
    ]);
    expect(flags[0]!.gates).toContain("kb.search");
    expect(flags[1]!.gates).toEqual([]);
  });

  it("toggles a flag and the snapshot follows (agent.tools off denies every skill)", async () => {
    const off = await db.$transaction((tx) => setFlag(tx, { key: "agent.tools", enabled: false }));
    expect(off).toMatchObject({ diff: { enabled: { from: true, to: false } }, summary: 'Flag "agent.tools" off' });
    expect(
      decide(await loadPolicySnapshot(db), ctx(), { kind: "skill", skillKey: "kb.search" }).reasons.map((r) => r.code),
    ).toEqual(["flag.off"]);
    await db.$transaction((tx) => setFlag(tx, { key: "agent.tools", enabled: true }));
    expect(decide(await loadPolicySnapshot(db), ctx(), { kind: "skill", skillKey: "kb.search" }).outcome).toBe("allow");
  });

  it("creates a flag that a skill can require", async () => {
    const created = await db.$transaction((tx) =>
      createFlag(tx, { key: "skills.kb_v2", description: "  Route kb.search to v2  " }),
    );
    expect(created).toMatchObject({
      key: "skills.kb_v2",
      enabled: false,
      description: "Route kb.search to v2",
      summary: 'Flag "skills.kb_v2" created (off)',
    });
    await db.skill.update({ where: { key: "kb.search" }, data: { settings: { requiresFlag: "skills.kb_v2" } } });
    expect((await listFlags(db)).find((f) => f.key === "skills.kb_v2")?.gates).toEqual(["kb.search"]);
    expect(decide(await loadPolicySnapshot(db), ctx(), { kind: "skill", skillKey: "kb.search" }).outcome).toBe("deny");
    await db.$transaction((tx) => setFlag(tx, { key: "skills.kb_v2", enabled: true }));
    expect(decide(await loadPolicySnapshot(db), ctx(), { kind: "skill", skillKey: "kb.search" }).outcome).toBe("allow");
    await db.skill.update({ where: { key: "kb.search" }, data: { settings: {} } });
  });

  it("refuses bad keys, duplicates, no-ops and unknown flags, writing nothing", async () => {
    const before = await db.featureFlag.findMany({ orderBy: { key: "asc" } });
    for (const key of [
      "",
      "Agent.Tools",
      "agent..tools",
      "1flag",
      "agent tools",
      "agent-tools",
      ".x",
      "x.",
      "a".repeat(65),
    ]) {
      expect((await refusal(db.$transaction((tx) => createFlag(tx, { key, description: "d" })))).code).toBe(
        "BAD_REQUEST",
      );
    }
    expect(
      (await refusal(db.$transaction((tx) => createFlag(tx, { key: "new.flag", description: "   " })))).message,
    ).toMatch(/say what the flag does/);
    expect(
      (await refusal(db.$transaction((tx) => createFlag(tx, { key: "agent.tools", description: "again" })))).code,
    ).toBe("CONFLICT");
    // Setting a flag to what it is changes nothing: not refused, an empty diff.
    expect(await db.$transaction((tx) => setFlag(tx, { key: "replies.markdown", enabled: true }))).toMatchObject({
      enabled: true,
      diff: {},
      summary: expect.stringMatching(/already on/),
    });
    expect((await refusal(db.$transaction((tx) => setFlag(tx, { key: "no.such", enabled: true })))).code).toBe(
      "NOT_FOUND",
    );
    expect(await db.featureFlag.findMany({ orderBy: { key: "asc" } })).toEqual(before);
  });
});
