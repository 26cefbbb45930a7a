import NextAuth from "next-auth";
import { NextRequest } from "next/server";
import { env } from "~/env.ts";
import { authOptions, signInLimiter } from "~/server/auth.ts";
import { clientIp, tooManyAttempts } from "~/server/rate-limit.ts";

type Handler = (req: Request, ctx: { params: Promise<{ nextauth: string[] }> }) => Promise<Response>;

/** Starting a sign-in (POST /signin/<provider>) and coming back from the provider (/callback/<provider>). */
function isSignInAttempt(req: Request, action: string | undefined): boolean {
  return (action === "signin" && req.method === "POST") || action === "callback";
}

/**
 * DingTalk's redirect names the code `authCode`; next-auth (openid-client) only reads `code`, so
 * the callback gets it under that name too.
 */
function withDingTalkCode(req: Request, nextauth: string[]): Request {
  if (nextauth[0] !== "callback" || nextauth[1] !== "dingtalk") return req;
  const url = new URL(req.url);
  const authCode = url.searchParams.get("authCode");
  if (!authCode || url.searchParams.has("code")) return req;
  url.searchParams.set("code", authCode);
  return new NextRequest(url, req);
}

const handler: Handler = async (req, ctx) => {
  const { nextauth } = await ctx.params;
  if (isSignInAttempt(req, nextauth[0])) {
    // Per client IP, on every replica (PostgreSQL); per email: the signIn callback in auth.ts.
    const wait = await (await signInLimiter()).byIp(clientIp(req.headers, env.TRUSTED_PROXY_HOPS));
    if (wait !== undefined) return tooManyAttempts(req, wait, `${env.NEXTAUTH_URL}/signin`);
  }
  return (NextAuth(authOptions()) as Handler)(withDingTalkCode(req, nextauth), ctx);
};

export { handler as GET, handler as POST };
