import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { env } from "~/env.ts";
import { redirectTarget } from "~/redirect.ts";
import { DingTalkSignInButton, SsoSignInButton } from "~/components/auth-buttons.tsx";
import { dingtalkEnabled, getSession } from "~/server/auth.ts";
import { waitText } from "~/server/rate-limit.ts";

export const metadata: Metadata = { title: "Sign in" };

const ERRORS: Record<string, string> = {
  AccessDenied: "Your account is not allowed to use the console. Ask an admin.",
  OAuthAccountNotLinked: "This email is linked to another sign-in method.",
  SessionRequired: "Please sign in to continue.",
  DingTalkNoEmail:
    "Your DingTalk account has no email address, and console roles are given by email. Add an email to your DingTalk profile, or sign in with SSO.",
  DingTalkUnknownUser:
    "No console user has the email of this DingTalk account. Sign in with SSO once, or ask an admin to add you.",
  OAuthCallback: "The sign-in provider did not complete the sign-in. Please try again.",
  Callback: "The sign-in was cancelled or did not complete. Please try again.",
};

/** The message for `?error=`; RateLimited says how long to wait (`retryAfter`, seconds). */
function errorMessage(code: string | undefined, retryAfter: string | string[] | undefined): string | undefined {
  if (!code) return undefined;
  if (code === "RateLimited") {
    const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
    const wait = Number.isInteger(seconds) && seconds > 0 && seconds < 86_400 ? waitText(seconds) : "a few minutes";
    return `Too many sign-in attempts. Try again in ${wait}.`;
  }
  return ERRORS[code] ?? "Sign-in failed. Please try again.";
}

export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const params = await searchParams;
  const callbackUrl = redirectTarget(
    Array.isArray(params.callbackUrl) ? params.callbackUrl[0] : params.callbackUrl,
    env.NEXTAUTH_URL,
  );
  if (await getSession()) redirect(callbackUrl);
  const code = typeof params.error === "string" ? params.error : undefined;
  const error = errorMessage(code, params.retryAfter);
  const dingtalk = dingtalkEnabled();

  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-8 shadow-sm">
        <p className="text-sm font-semibold tracking-wide text-indigo-600 uppercase">Clawgate</p>
        <h1 className="mt-1 text-2xl font-semibold">Sign in to the console</h1>
        <p className="mt-2 text-sm text-slate-600">
          Use your organisation&apos;s single sign-on{dingtalk ? " or your DingTalk account" : ""}.
        </p>
        {error && (
          <p role="alert" className="mt-4 rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800">
            {error}
          </p>
        )}
        <div className="mt-6 flex flex-col gap-3">
          <SsoSignInButton callbackUrl={callbackUrl} />
          {dingtalk && <DingTalkSignInButton callbackUrl={callbackUrl} />}
        </div>
      </div>
    </main>
  );
}
