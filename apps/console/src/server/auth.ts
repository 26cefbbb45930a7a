/** next-auth, configured once: the organisation's OIDC provider, database sessions, roles. */
import "server-only";
import { PrismaAdapter } from "@next-auth/prisma-adapter";
import { getServerSession, type NextAuthOptions } from "next-auth";
import { cache } from "react";
import { getDb } from "@clawgate/db";
import { env } from "~/env.ts";
import { clawgateAdapter, isDisabled, type BaseAdapter } from "./auth-adapter.ts";

interface OidcProfile {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
}

function createAuthOptions(): NextAuthOptions {
  const db = getDb();
  const adapter = clawgateAdapter(PrismaAdapter(db as unknown as Parameters<typeof PrismaAdapter>[0]) as BaseAdapter, {
    adminEmails: env.ADMIN_EMAILS,
  });
  return {
    adapter,
    secret: env.NEXTAUTH_SECRET,
    session: { strategy: "database", maxAge: 8 * 60 * 60, updateAge: 15 * 60 },
    pages: { signIn: "/signin", error: "/signin" },
    providers: [
      {
        id: "oidc",
        name: "SSO",
        type: "oauth",
        wellKnown: `${env.OIDC_ISSUER}/.well-known/openid-configuration`,
        clientId: env.OIDC_CLIENT_ID,
        clientSecret: env.OIDC_CLIENT_SECRET,
        authorization: { params: { scope: "openid email profile" } },
        idToken: true,
        checks: ["pkce", "state"],
        // Users are provisioned by email (seed, invitations) before their first SSO sign-in; the
        // IdP is the organisation's own and only verified emails are accepted (signIn below).
        allowDangerousEmailAccountLinking: true,
        profile: (profile: OidcProfile) => ({
          id: profile.sub,
          name: profile.name ?? profile.email ?? profile.sub,
          email: profile.email?.toLowerCase() ?? null,
          image: null,
        }),
      },
    ],
    callbacks: {
      async signIn({ user, profile }) {
        const claims = profile as OidcProfile | undefined;
        if (!claims?.email || claims.email_verified !== true) return false;
        const existing = await db.user.findUnique({ where: { email: claims.email.toLowerCase() }, select: { disabledAt: true } });
        return !isDisabled(existing) && !isDisabled(user);
      },
      session({ session, user }) {
        // The adapter already refuses disabled users' sessions; never hand one out regardless.
        if (isDisabled(user)) throw new Error("user is disabled");
        return { ...session, user: { ...session.user, id: user.id, role: user.role ?? "VIEWER" } };
      },
    },
    events: {
      async signIn({ user }) {
        await db.user.update({ where: { id: user.id }, data: { lastSignInAt: new Date() } });
      },
    },
  };
}

let options: NextAuthOptions | undefined;
/** Built on first use so `next build` never needs the environment. */
export function authOptions(): NextAuthOptions {
  return (options ??= createAuthOptions());
}

/** The signed-in session or null; read once per server request. */
export const getSession = cache(() => getServerSession(authOptions()));
