import { describe, expect, it, vi } from "vitest";
import type { AdapterAccount, AdapterSession, AdapterUser } from "next-auth/adapters";
import { clawgateAdapter, roleForNewUser, withoutTokens, type BaseAdapter } from "./auth-adapter.ts";

const account: AdapterAccount = {
  userId: "u1",
  type: "oauth",
  provider: "oidc",
  providerAccountId: "admin@clawgate.local",
  access_token: "at-secret",
  refresh_token: "rt-secret",
  id_token: "idt-secret",
  expires_at: 1_900_000_000,
  token_type: "bearer",
  scope: "openid email profile",
};

const user = (extra: Partial<AdapterUser> = {}): AdapterUser => ({
  id: "u1",
  email: "a@x.test",
  emailVerified: null,
  name: "A",
  role: "VIEWER",
  ...extra,
});
const session: AdapterSession = { sessionToken: "tok", userId: "u1", expires: new Date(Date.now() + 60_000) };

function fakeBase(found: { session: AdapterSession; user: AdapterUser } | null = null) {
  return {
    createUser: vi.fn(async (u: Omit<AdapterUser, "id">) => ({ ...u, id: "new" })),
    linkAccount: vi.fn(async () => undefined),
    getSessionAndUser: vi.fn(async () => found),
    deleteSession: vi.fn(async () => undefined),
    updateSession: vi.fn(async (s: Partial<AdapterSession> & Pick<AdapterSession, "sessionToken">) => ({
      ...session,
      ...s,
      notAfter: null as Date | null,
    })),
  } satisfies BaseAdapter;
}

describe("withoutTokens", () => {
  it("drops the IdP's tokens and keeps the account link", () => {
    const kept = withoutTokens(account);
    expect(kept).toEqual({
      userId: "u1",
      type: "oauth",
      provider: "oidc",
      providerAccountId: "admin@clawgate.local",
      expires_at: 1_900_000_000,
      token_type: "bearer",
      scope: "openid email profile",
    });
    expect(JSON.stringify(kept)).not.toMatch(/secret/);
  });

  it("is what the wrapped adapter stores", async () => {
    const base = fakeBase();
    await clawgateAdapter(base, { adminEmails: [] }).linkAccount?.(account);
    expect(base.linkAccount).toHaveBeenCalledWith(withoutTokens(account));
  });
});

describe("new users", () => {
  it("are viewers unless listed in ADMIN_EMAILS (case-insensitive)", () => {
    expect(roleForNewUser("someone@x.test", ["boss@x.test"])).toBe("VIEWER");
    expect(roleForNewUser(" Boss@X.test ", ["boss@x.test"])).toBe("ADMIN");
    expect(roleForNewUser(null, ["boss@x.test"])).toBe("VIEWER");
  });

  it("are created with that role", async () => {
    const base = fakeBase();
    await clawgateAdapter(base, { adminEmails: ["boss@x.test"] }).createUser?.({
      email: "boss@x.test",
      emailVerified: null,
      name: "B",
    });
    expect(base.createUser).toHaveBeenCalledWith(expect.objectContaining({ email: "boss@x.test", role: "ADMIN" }));
  });
});

describe("sessions", () => {
  it("of an enabled user are returned", async () => {
    const found = { session, user: user() };
    const adapter = clawgateAdapter(fakeBase(found), { adminEmails: [] });
    expect(await adapter.getSessionAndUser?.("tok")).toBe(found);
  });

  it("of a disabled user are refused and deleted", async () => {
    const base = fakeBase({ session, user: user({ disabledAt: new Date() }) });
    expect(await clawgateAdapter(base, { adminEmails: [] }).getSessionAndUser?.("tok")).toBeNull();
    expect(base.deleteSession).toHaveBeenCalledWith("tok");
  });
});

describe("a disabled user's session already removed by a concurrent request", () => {
  it("is still refused without an error", async () => {
    const base = fakeBase({ session, user: user({ disabledAt: new Date() }) });
    base.deleteSession.mockRejectedValueOnce(new Error("P2025: no record found"));
    expect(await clawgateAdapter(base, { adminEmails: [] }).getSessionAndUser?.("tok")).toBeNull();
  });
});

describe("a session with a hard end (break-glass)", () => {
  it("is never extended past notAfter; other sessions slide as next-auth asks", async () => {
    const notAfter = new Date(Date.now() + 60_000);
    const base = fakeBase();
    base.updateSession.mockImplementation(async (s) => ({ ...session, ...s, notAfter }));
    const adapter = clawgateAdapter(base, { adminEmails: [] });
    const later = new Date(Date.now() + 8 * 3_600_000);
    const out = await adapter.updateSession!({ sessionToken: "tok", expires: later });
    expect(out?.expires).toEqual(notAfter);
    expect(base.updateSession).toHaveBeenLastCalledWith({ sessionToken: "tok", expires: notAfter });

    const plain = fakeBase();
    const slid = await clawgateAdapter(plain, { adminEmails: [] }).updateSession!({
      sessionToken: "tok",
      expires: later,
    });
    expect(slid?.expires).toEqual(later);
    expect(plain.updateSession).toHaveBeenCalledTimes(1);
  });
});
