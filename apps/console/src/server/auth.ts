/**
 * next-auth, configured once: the organisation's OIDC provider, DingTalk login when configured,
 * database sessions, roles, and sign-in rate limits per email (per IP: the auth route).
 */
import "server-only";
import { PrismaAdapter } from "@next-auth/prisma-adapter";
import { getServerSession, type NextAuthOptions } from "next-auth";
import { cache } from "react";
import { appendAudit } from "@clawgate/core/audit.ts";
import { consoleDb } from "~/server/db.ts";
import { env } from "~/env.ts";
import { redirectTarget } from "~/redirect.ts";
import { clawgateAdapter, isDisabled, type BaseAdapter } from "./auth-adapter.ts";
import { dingtalkProvider } from "./dingtalk-oauth.ts";
import { createSignInLimiter, limiterPool, type SignInLimiter } from "./rate-limit.ts";
import { signInDecision, type OidcProfile } from "./sign-in-policy.ts";

/** DingTalk login is offered only when its app credentials are configured. */
export function dingtalkEnabled(): boolean {
  return !!(env.DINGTALK_OAUTH_CLIENT_ID && env.DINGTALK_OAUTH_CLIENT_SECRET);
}

const globalForLimiter = globalThis as unknown as { clawgateSignInLimiter?: Promise<SignInLimiter> };
/** One limiter (and a 2-connection pool) per process, shared by the auth route and the callbacks. */
export function signInLimiter(): Promise<SignInLimiter> {
  globalForLimiter.clawgateSignInLimiter ??= createSignInLimiter(limiterPool(env.DATABASE_URL), {
    perIp: env.SIGNIN_RATE_LIMIT_PER_IP,
    perEmail: env.SIGNIN_RATE_LIMIT_PER_EMAIL,
    windowSeconds: env.SIGNIN_RATE_LIMIT_WINDOW_SECONDS,
  }).catch((error: unknown) => {
    globalForLimiter.clawgateSignInLimiter = undefined; // try again on the next sign-in
    throw error;
  });
  return globalForLimiter.clawgateSignInLimiter;
}

function createAuthOptions(): NextAuthOptions {
  const db = consoleDb();
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
      ...(dingtalkEnabled()
        ? [
            dingtalkProvider({
              clientId: env.DINGTALK_OAUTH_CLIENT_ID!,
              clientSecret: env.DINGTALK_OAUTH_CLIENT_SECRET!,
              loginBase: env.DINGTALK_LOGIN_BASE,
              apiBase: env.DINGTALK_API_BASE,
            }),
          ]
        : []),
    ],
    callbacks: {
      // Sign-in and sign-out callbackUrls (parameter or cookie): the console's own pages only.
      redirect: ({ url }) => redirectTarget(url, env.NEXTAUTH_URL),
      async signIn({ user, account, profile }) {
        return signInDecision(
          { db, limiter: await signInLimiter(), consoleUrl: env.NEXTAUTH_URL },
          { provider: account?.provider, profile, user },
        );
      },
      session({ session, user }) {
        // The adapter already refuses disabled users' sessions; never hand one out regardless.
        if (isDisabled(user)) throw new Error("user is disabled");
        // What the browser gets (/api/auth/session, page props): these four fields and nothing else.
        return {
          expires: session.expires,
          user: { id: user.id, name: user.name ?? null, email: user.email ?? null, role: user.role ?? "VIEWER" },
        };
      },
    },
    events: {
      async signIn({ user, account }) {
        // Audited with the method (oidc, dingtalk); break-glass sign-ins are audited by core.
        await db.$transaction(async (tx) => {
          await tx.user.update({ where: { id: user.id }, data: { lastSignInAt: new Date() } });
          await appendAudit(tx, {
            actor: { type: "USER", id: user.id, name: user.email ?? user.name ?? user.id },
            action: "auth.sign_in",
            targetType: "user",
            targetId: user.id,
            diff: { method: account?.provider ?? "unknown" },
          });
        });
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
