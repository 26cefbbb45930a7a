/**
 * Who may sign in, decided in next-auth's signIn callback (auth.ts) after the identity provider
 * has authenticated the person. Returns true, false (next-auth's AccessDenied), or the URL of the
 * sign-in page with the message to show.
 */
import type { Db } from "@clawgate/db";
import { isDisabled } from "./auth-adapter.ts";
import type { DingTalkProfile } from "./dingtalk-oauth.ts";
import type { SignInLimiter } from "./rate-limit.ts";

export interface OidcProfile {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export interface SignInPolicyDeps {
  db: Pick<Db, "user">;
  limiter: Pick<SignInLimiter, "byEmail">;
  /** NEXTAUTH_URL */
  consoleUrl: string;
}

export async function signInDecision(
  deps: SignInPolicyDeps,
  input: { provider: string | undefined; profile: unknown; user: unknown },
): Promise<boolean | string> {
  const signInError = (error: string, extra: Record<string, string> = {}) =>
    `${deps.consoleUrl}/signin?${new URLSearchParams({ error, ...extra })}`;
  const dingtalk = input.provider === "dingtalk";

  // Roles are keyed by email: a sign-in without one cannot be matched to a console user.
  let email: string | undefined;
  if (dingtalk) {
    email = (input.profile as DingTalkProfile | undefined)?.email?.trim().toLowerCase() || undefined;
    if (!email) return signInError("DingTalkNoEmail");
  } else {
    const claims = input.profile as OidcProfile | undefined;
    if (!claims?.email || claims.email_verified !== true) return false;
    email = claims.email.trim().toLowerCase();
  }

  const wait = await deps.limiter.byEmail(email);
  if (wait !== undefined) return signInError("RateLimited", { retryAfter: String(wait) });

  const existing = await deps.db.user.findUnique({ where: { email }, select: { disabledAt: true } });
  // Anyone with a DingTalk account can authorize the app: DingTalk signs in people the console
  // already knows (invited, seeded, or signed in with SSO before), never new ones.
  if (dingtalk && !existing) return signInError("DingTalkUnknownUser");
  return !isDisabled(existing) && !isDisabled(input.user);
}
