import NextAuth from "next-auth";
import { env } from "~/env.ts";
import { authOptions, signInLimiter } from "~/server/auth.ts";
import { clientIp, tooManyAttempts } from "~/server/rate-limit.ts";

type Handler = (req: Request, ctx: { params: Promise<{ nextauth: string[] }> }) => Promise<Response>;

/** Starting a sign-in (POST /signin/<provider>) and coming back from the provider (/callback/<provider>). */
function isSignInAttempt(req: Request, action: string | undefined): boolean {
  return (action === "signin" && req.method === "POST") || action === "callback";
}

const handler: Handler = async (req, ctx) => {
  const { nextauth } = await ctx.params;
  if (isSignInAttempt(req, nextauth[0])) {
    // Per client IP, on every replica (PostgreSQL); per email: the signIn callback in auth.ts.
    const wait = await (await signInLimiter()).byIp(clientIp(req.headers, env.TRUSTED_PROXY_HOPS));
    if (wait !== undefined) return tooManyAttempts(req, wait, `${env.NEXTAUTH_URL}/signin`);
  }
  return (NextAuth(authOptions()) as Handler)(req, ctx);
};

export { handler as GET, handler as POST };
