/**
 * The Prisma adapter with Clawgate's rules on top:
 * - IdP tokens are never stored: the console needs none after sign-in (secrets never in the DB).
 * - A new user is VIEWER unless their email is in ADMIN_EMAILS.
 * - A disabled user has no session: their session rows are refused (and removed) on read.
 * - A session with a hard end (`notAfter`: a break-glass sign-in) is never extended past it.
 */
import type { Adapter, AdapterAccount, AdapterUser } from "next-auth/adapters";
import type { Role } from "@clawgate/db/enums";

/** Account columns that may be stored; access_token, refresh_token and id_token are dropped. */
const STORED_ACCOUNT_FIELDS = [
  "userId",
  "type",
  "provider",
  "providerAccountId",
  "expires_at",
  "token_type",
  "scope",
  "session_state",
] as const;

export function withoutTokens(account: AdapterAccount): AdapterAccount {
  const kept: Record<string, unknown> = {};
  for (const key of STORED_ACCOUNT_FIELDS) if (account[key] !== undefined) kept[key] = account[key];
  return kept as AdapterAccount;
}

export function roleForNewUser(email: string | null | undefined, adminEmails: readonly string[]): Role {
  return email && adminEmails.includes(email.trim().toLowerCase()) ? "ADMIN" : "VIEWER";
}

export function isDisabled(user: unknown): boolean {
  return !!(user as { disabledAt?: Date | null } | null)?.disabledAt;
}

type Required<A, K extends keyof A> = A & { [P in K]-?: NonNullable<A[P]> };
export type BaseAdapter = Required<
  Adapter,
  "createUser" | "linkAccount" | "getSessionAndUser" | "deleteSession" | "updateSession"
>;

export function clawgateAdapter(base: BaseAdapter, opts: { adminEmails: readonly string[] }): Adapter {
  return {
    ...base,
    createUser: (user: Omit<AdapterUser, "id">) =>
      base.createUser({ ...user, role: roleForNewUser(user.email, opts.adminEmails) } as Omit<AdapterUser, "id">),
    linkAccount: (account: AdapterAccount) => base.linkAccount(withoutTokens(account)),
    async getSessionAndUser(sessionToken: string) {
      const found = await base.getSessionAndUser(sessionToken);
      if (found && isDisabled(found.user)) {
        // Concurrent requests race to remove it: already gone is fine.
        await Promise.resolve(base.deleteSession(sessionToken)).catch(() => undefined);
        return null;
      }
      return found;
    },
    async updateSession(session) {
      const updated = await base.updateSession(session);
      // next-auth slides `expires` forward on use; a break-glass session ends with its grant.
      const notAfter = (updated as { notAfter?: Date | null } | null | undefined)?.notAfter;
      if (updated && notAfter && updated.expires.getTime() > notAfter.getTime())
        return base.updateSession({ sessionToken: updated.sessionToken, expires: notAfter });
      return updated;
    },
  };
}
