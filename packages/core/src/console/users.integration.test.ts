import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { addUser, isDemotion, listUsers, setUserDisabled, setUserRole } from "./users.ts";
import { DomainError } from "../errors.ts";

let tdb: TestDatabase;
let db: Db;
const ids: Record<string, string> = {};

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 6 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const inAWeek = () => new Date(Date.now() + 7 * 86_400_000);

beforeEach(async () => {
  await db.session.deleteMany();
  await db.user.deleteMany();
  for (const [key, role] of [
    ["ada", "ADMIN"],
    ["bob", "ADMIN"],
    ["ari", "APPROVER"],
    ["oli", "OPERATOR"],
    ["vic", "VIEWER"],
  ] as const) {
    const u = await db.user.create({ data: { email: `${key}@example.test`, name: key, role } });
    ids[key] = u.id;
    await db.session.create({ data: { sessionToken: `tok-${key}`, userId: u.id, expires: inAWeek() } });
  }
});

const sessions = (key: string) => db.session.count({ where: { userId: ids[key] } });
const expectRefused = async (p: Promise<unknown>, code: DomainError["code"], message: RegExp) => {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainError);
  expect((e as DomainError).code).toBe(code);
  expect((e as DomainError).message).toMatch(message);
};

describe("isDemotion", () => {
  it("counts every change that loses a right", () => {
    expect(isDemotion("ADMIN", "OPERATOR")).toBe(true);
    expect(isDemotion("APPROVER", "OPERATOR")).toBe(true);
    expect(isDemotion("OPERATOR", "VIEWER")).toBe(true);
    expect(isDemotion("VIEWER", "OPERATOR")).toBe(false);
    expect(isDemotion("OPERATOR", "ADMIN")).toBe(false);
    expect(isDemotion("ADMIN", "ADMIN")).toBe(false);
  });
});

describe("listUsers", () => {
  it("filters by search and role, pages, and counts live sessions", async () => {
    await db.session.create({ data: { sessionToken: "old", userId: ids.vic!, expires: new Date(Date.now() - 1000) } });
    const all = await listUsers(db, { pageSize: 2 });
    expect(all.total).toBe(5);
    expect(all.items).toHaveLength(2);
    const admins = await listUsers(db, { role: "ADMIN" });
    expect(admins.items.map((u) => u.name).sort()).toEqual(["ada", "bob"]);
    const vic = await listUsers(db, { search: "VIC@" });
    expect(vic.items).toHaveLength(1);
    expect(vic.items[0]).toMatchObject({ email: "vic@example.test", role: "VIEWER", activeSessions: 1 });
  });
});

describe("setUserRole", () => {
  it("demotes and revokes the user's sessions in the same transaction", async () => {
    const change = await db.$transaction((tx) => setUserRole(tx, ids.ada!, { userId: ids.oli!, role: "VIEWER" }));
    expect(change).toMatchObject({ sessionsRevoked: 1, diff: { role: { from: "OPERATOR", to: "VIEWER" } } });
    expect((await db.user.findUniqueOrThrow({ where: { id: ids.oli } })).role).toBe("VIEWER");
    expect(await sessions("oli")).toBe(0);
  });

  it("keeps the session on a promotion", async () => {
    const change = await db.$transaction((tx) => setUserRole(tx, ids.ada!, { userId: ids.vic!, role: "APPROVER" }));
    expect(change.sessionsRevoked).toBe(0);
    expect(await sessions("vic")).toBe(1);
  });

  it("refuses to demote yourself", async () => {
    await expectRefused(
      db.$transaction((tx) => setUserRole(tx, ids.ada!, { userId: ids.ada!, role: "VIEWER" })),
      "PRECONDITION_FAILED",
      /yourself/,
    );
    expect((await db.user.findUniqueOrThrow({ where: { id: ids.ada } })).role).toBe("ADMIN");
    expect(await sessions("ada")).toBe(1);
  });

  it("refuses to demote the last active admin (a disabled admin does not count)", async () => {
    await db.user.update({ where: { id: ids.bob }, data: { disabledAt: new Date() } });
    // The rule is about the target, not who asks (the router already checked the asker is ADMIN).
    await expectRefused(
      db.$transaction((tx) => setUserRole(tx, ids.bob!, { userId: ids.ada!, role: "OPERATOR" })),
      "PRECONDITION_FAILED",
      /last active admin/,
    );
    expect((await db.user.findUniqueOrThrow({ where: { id: ids.ada } })).role).toBe("ADMIN");
  });

  it("two admins demoting each other at once: exactly one succeeds", async () => {
    const results = await Promise.allSettled([
      db.$transaction((tx) => setUserRole(tx, ids.ada!, { userId: ids.bob!, role: "VIEWER" })),
      db.$transaction((tx) => setUserRole(tx, ids.bob!, { userId: ids.ada!, role: "VIEWER" })),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(await db.user.count({ where: { role: "ADMIN", disabledAt: null } })).toBe(1);
  });

  it("refuses bad input, an unknown user and a no-op, changing nothing", async () => {
    await expect(
      db.$transaction((tx) => setUserRole(tx, ids.ada!, { userId: ids.vic!, role: "ROOT" as never })),
    ).rejects.toThrow(/role must be/);
    await expectRefused(
      db.$transaction((tx) => setUserRole(tx, ids.ada!, { userId: "nope", role: "VIEWER" })),
      "NOT_FOUND",
      /No such user/,
    );
    await expectRefused(
      db.$transaction((tx) => setUserRole(tx, ids.ada!, { userId: ids.vic!, role: "VIEWER" })),
      "CONFLICT",
      /already VIEWER/,
    );
    expect(await db.session.count()).toBe(5);
  });
});

describe("setUserDisabled", () => {
  it("disables (sessions revoked) and re-enables", async () => {
    const off = await db.$transaction((tx) => setUserDisabled(tx, ids.ada!, { userId: ids.ari!, disabled: true }));
    expect(off).toMatchObject({ sessionsRevoked: 1, diff: { disabled: { from: false, to: true } } });
    expect((await db.user.findUniqueOrThrow({ where: { id: ids.ari } })).disabledAt).not.toBeNull();
    expect(await sessions("ari")).toBe(0);
    const on = await db.$transaction((tx) => setUserDisabled(tx, ids.ada!, { userId: ids.ari!, disabled: false }));
    expect(on.diff).toEqual({ disabled: { from: true, to: false } });
    expect((await db.user.findUniqueOrThrow({ where: { id: ids.ari } })).disabledAt).toBeNull();
  });

  it("refuses to disable yourself or the last active admin", async () => {
    await expectRefused(
      db.$transaction((tx) => setUserDisabled(tx, ids.ada!, { userId: ids.ada!, disabled: true })),
      "PRECONDITION_FAILED",
      /yourself/,
    );
    await db.$transaction((tx) => setUserDisabled(tx, ids.ada!, { userId: ids.bob!, disabled: true }));
    await expectRefused(
      db.$transaction((tx) => setUserDisabled(tx, ids.bob!, { userId: ids.ada!, disabled: true })),
      "PRECONDITION_FAILED",
      /last active admin/,
    );
    expect((await db.user.findUniqueOrThrow({ where: { id: ids.ada } })).disabledAt).toBeNull();
    expect(await sessions("ada")).toBe(1);
  });
});

describe("addUser", () => {
  it("adds a user by email (normalised) with a role and no session", async () => {
    const added = await db.$transaction((t) =>
      addUser(t, ids.ada!, { email: "  New.Approver@Example.TEST ", role: "APPROVER", name: " Nia " }),
    );
    expect(added).toMatchObject({
      created: true,
      email: "new.approver@example.test",
      summary: "new.approver@example.test added as APPROVER",
      diff: { email: { from: null, to: "new.approver@example.test" }, role: { from: null, to: "APPROVER" } },
    });
    expect(await db.user.findUniqueOrThrow({ where: { email: "new.approver@example.test" } })).toMatchObject({
      id: added.userId,
      name: "Nia",
      role: "APPROVER",
      disabledAt: null,
    });
  });

  it("refuses an existing email (any case) and bad input, writing nothing; --update-role changes only the role", async () => {
    const before = await db.user.count();
    await expectRefused(
      db.$transaction((t) => addUser(t, ids.ada!, { email: "VIC@example.test", role: "ADMIN" })),
      "CONFLICT",
      /^vic@example.test is already a user \(VIEWER\): nothing added\.$/,
    );
    for (const bad of [
      { email: "not-an-email", role: "ADMIN" },
      { email: "x@example.test", role: "ROOT" },
      { email: "x@example.test", role: "ADMIN", extra: 1 },
    ])
      await expect(db.$transaction((t) => addUser(t, ids.ada!, bad as never))).rejects.toThrow();
    expect(await db.user.count()).toBe(before);

    const promoted = await db.$transaction((t) =>
      addUser(t, "root@ops-host", { email: "vic@example.test", role: "APPROVER" }, { updateRole: true }),
    );
    expect(promoted).toMatchObject({ created: false, diff: { role: { from: "VIEWER", to: "APPROVER" } } });
    expect(await sessions("vic")).toBe(1); // a promotion keeps the session
    await expectRefused(
      db.$transaction((t) =>
        addUser(t, "root@ops-host", { email: "vic@example.test", role: "APPROVER" }, { updateRole: true }),
      ),
      "CONFLICT",
      /already APPROVER/,
    );
  });
});
