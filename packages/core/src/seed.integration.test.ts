import { createDb, type Db } from "@clawgate/db";
import { BUILTIN_SKILLS } from "@clawgate/skills";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { verifyAuditChain } from "./audit.ts";
import { bumpConfigRevision, CONFIG_CHANNEL } from "./revision.ts";
import { DEMO_USERS } from "./seed/demo-users.ts";
import { DEMO_CONVERSATION_ID, seedDemo } from "./seed/demo.ts";

let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 4 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("seedDemo", () => {
  it("creates the demo data set in one audited config revision", async () => {
    const result = await seedDemo(db, {
      modelBaseUrl: "http://127.0.0.1:9/v1",
      internalApiBaseUrl: "http://127.0.0.1:9",
    });
    expect(result.created).toMatchObject({
      skills: BUILTIN_SKILLS.length,
      users: DEMO_USERS.length,
      conversations: 1,
      models: 1,
    });
    expect(result.configRevision).toBe(1);

    const skills = await db.skill.findMany();
    expect(skills.find((s) => s.key === "ticket.create")).toMatchObject({
      riskClass: "WRITE",
      requiresApproval: true,
      enabled: true,
      builtin: true,
    });
    expect(skills.find((s) => s.key === "kb.search")).toMatchObject({
      riskClass: "READ",
      enabled: true,
      settings: { baseUrl: "http://127.0.0.1:9" },
    });
    expect(skills.find((s) => s.key === "help")?.settings).toEqual({});
    const users = await db.user.findMany({ orderBy: { email: "asc" } });
    expect(users.map((u) => u.role).sort()).toEqual(["ADMIN", "APPROVER", "OPERATOR", "VIEWER"]);
    expect(await db.conversation.findUnique({ where: { conversationId: DEMO_CONVERSATION_ID } })).toMatchObject({
      status: "ENABLED",
    });
    const route = await db.route.findFirstOrThrow({
      where: { isDefault: true },
      include: { modelEndpoint: true, budget: true },
    });
    expect(route.modelEndpoint).toMatchObject({
      name: "local_chat",
      baseUrl: "http://127.0.0.1:9/v1",
      apiKeyEnv: "LOCAL_MODEL_API_KEY",
    });
    expect(route.budget?.scope).toBe("DEFAULT");
    const audit = await db.auditLog.findMany();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: "seed.demo", actorType: "SYSTEM", configRevision: 1 });
  });

  it("is idempotent and keeps what admins changed", async () => {
    await db.skill.update({ where: { key: "kb.search" }, data: { enabled: false } });
    const again = await seedDemo(db);
    expect(again).toEqual({ created: {}, configRevision: null });
    expect((await db.skill.findUniqueOrThrow({ where: { key: "kb.search" } })).enabled).toBe(false);
    expect(await db.configRevision.count()).toBe(1);
    expect(await verifyAuditChain(db)).toBeNull();
  });
});

describe("config revisions", () => {
  it("notify listeners at commit, and not on rollback", async () => {
    const listener = new pg.Client({ connectionString: tdb.url });
    await listener.connect();
    const received: string[] = [];
    listener.on("notification", (n) => received.push(n.payload ?? ""));
    await listener.query(`LISTEN ${CONFIG_CHANNEL}`);
    try {
      const rev = await db.$transaction((tx) => bumpConfigRevision(tx, { type: "CLI", name: "test" }, "test change"));
      await expect(
        db.$transaction(async (tx) => {
          await bumpConfigRevision(tx, { type: "CLI", name: "test" }, "rolled back");
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      await new Promise((r) => setTimeout(r, 200));
      expect(received).toEqual([String(rev)]);
    } finally {
      await listener.end();
    }
  });
});
