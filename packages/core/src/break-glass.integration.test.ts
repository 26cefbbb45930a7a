import { createDb, type Db } from "@clawgate/db";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Actor } from "./actor.ts";
import { verifyAuditChain } from "./audit.ts";
import {
  breakGlassState,
  hashBreakGlassToken,
  issueBreakGlass,
  parseBreakGlassTtl,
  redeemBreakGlass,
} from "./break-glass.ts";
import { DomainError } from "./errors.ts";

let tdb: TestDatabase;
let db: Db;
const cli: Actor = { type: "CLI", name: "cli:oncall@host" };
const counts = async () => ({
  grants: await db.breakGlassGrant.count(),
  sessions: await db.session.count(),
  audit: await db.auditLog.count(),
  incidents: await db.incident.count(),
});

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_core_break_glass" });
  db = createDb(tdb.url, { max: 6 });
  await db.user.create({ data: { email: "ops@clawgate.local", name: "Ops", role: "OPERATOR" } });
  await db.user.create({ data: { email: "gone@clawgate.local", role: "ADMIN", disabledAt: new Date() } });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("break-glass", () => {
  it("parses TTLs and refuses bad ones", () => {
    expect(parseBreakGlassTtl("15m")).toBe(900_000);
    expect(parseBreakGlassTtl("4h")).toBe(14_400_000);
    for (const bad of ["5h", "10s", "15", "-1m", "1d", "abc"])
      expect(() => parseBreakGlassTtl(bad)).toThrow(DomainError);
  });

  it("refuses an unknown or disabled user, a bad TTL and no reason, writing nothing", async () => {
    const before = await counts();
    const issue = (email: string, ttlMs: number, reason: string) => issueBreakGlass(db, cli, { email, ttlMs, reason });
    await expect(issue("nobody@clawgate.local", 60_000, "idp down")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(issue("gone@clawgate.local", 60_000, "idp down")).rejects.toMatchObject({ reason: "disabled" });
    await expect(issue("ops@clawgate.local", 5 * 3_600_000, "idp down")).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(issue("ops@clawgate.local", 60_000, "  ")).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(await counts()).toEqual(before);
  });

  it("stores only the hash, signs in once (racing uses: one wins), audits, and opens an incident", async () => {
    const issued = await issueBreakGlass(db, cli, {
      email: " OPS@clawgate.local ",
      ttlMs: 15 * 60_000,
      reason: "IdP down",
    });
    const grant = await db.breakGlassGrant.findUniqueOrThrow({ where: { id: issued.grantId } });
    expect(grant.tokenHash).toBe(hashBreakGlassToken(issued.token));
    expect(JSON.stringify(grant)).not.toContain(issued.token);
    expect(await breakGlassState(db, issued.token)).toMatchObject({ state: "valid", email: "ops@clawgate.local" });
    const trigger = await db.incidentTrigger.findFirstOrThrow({
      where: { kind: "break_glass", refId: issued.grantId },
    });
    expect(trigger).toMatchObject({ incidentId: issued.incidentId, endedAt: issued.expiresAt });

    const tries = await Promise.all(
      Array.from({ length: 5 }, () => redeemBreakGlass(db, issued.token, { ip: "10.0.0.1", userAgent: "test" })),
    );
    const wins = tries.filter((r) => r.ok);
    expect(wins).toHaveLength(1);
    expect(tries.filter((r) => !r.ok).every((r) => !r.ok && r.reason === "used")).toBe(true);
    const win = wins[0]!;
    if (!win.ok) throw new Error("unreachable");
    const session = await db.session.findUniqueOrThrow({ where: { sessionToken: win.sessionToken } });
    expect(session).toMatchObject({ expires: issued.expiresAt, notAfter: issued.expiresAt, userId: issued.userId });
    expect(await db.session.count({ where: { userId: issued.userId } })).toBe(1);
    const signIn = await db.auditLog.findFirstOrThrow({ where: { action: "auth.sign_in" } });
    expect(signIn).toMatchObject({ actorName: "ops@clawgate.local", actorIp: "10.0.0.1", targetId: issued.userId });
    expect(signIn.diff).toMatchObject({ method: "break_glass", grant: issued.grantId });
    expect(await breakGlassState(db, issued.token)).toMatchObject({ state: "used" });

    const before = await counts();
    expect(await redeemBreakGlass(db, issued.token)).toEqual({ ok: false, reason: "used" });
    expect(await redeemBreakGlass(db, "not-a-token")).toEqual({ ok: false, reason: "unknown" });
    expect(await counts()).toEqual(before);
    expect(await verifyAuditChain(db)).toBeNull();
  });

  it("refuses a link after its TTL, and a user disabled since it was issued, changing nothing", async () => {
    const issued = await issueBreakGlass(db, cli, { email: "ops@clawgate.local", ttlMs: 60_000, reason: "IdP down" });
    const later = new Date(issued.expiresAt.getTime() + 1);
    const before = await counts();
    expect(await breakGlassState(db, issued.token, later)).toMatchObject({ state: "expired" });
    expect(await redeemBreakGlass(db, issued.token, {}, later)).toEqual({ ok: false, reason: "expired" });

    const other = await issueBreakGlass(db, cli, { email: "ops@clawgate.local", ttlMs: 60_000, reason: "IdP down" });
    await db.user.update({ where: { email: "ops@clawgate.local" }, data: { disabledAt: new Date() } });
    const mid = await counts();
    expect(await redeemBreakGlass(db, other.token)).toEqual({ ok: false, reason: "disabled" });
    expect(await counts()).toEqual(mid);
    expect((await db.breakGlassGrant.findUniqueOrThrow({ where: { id: other.grantId } })).usedAt).toBeNull();
    expect(before.sessions).toBe(mid.sessions);
    await db.user.update({ where: { email: "ops@clawgate.local" }, data: { disabledAt: null } });
  });
});
