"use client";
import { signIn, signOut } from "next-auth/react";
import { useState, type ReactNode } from "react";

const base = "rounded-md text-sm font-semibold disabled:cursor-wait disabled:opacity-60";

/** A button that starts a redirect: disabled (and optionally relabelled) once clicked. */
function RedirectButton(props: {
  onClick: () => Promise<unknown>;
  className: string;
  children: ReactNode;
  busyLabel?: string;
}) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      disabled={busy}
      onClick={() => {
        setBusy(true);
        void props.onClick();
      }}
      className={`${base} ${props.className}`}
    >
      {busy && props.busyLabel ? props.busyLabel : props.children}
    </button>
  );
}

export function SignOutButton() {
  return (
    <RedirectButton
      onClick={() => signOut({ callbackUrl: "/signin" })}
      className="px-3 py-1.5 text-slate-600 ring-1 ring-slate-300 hover:bg-slate-100"
    >
      Sign out
    </RedirectButton>
  );
}

export function SsoSignInButton({ callbackUrl }: { callbackUrl: string }) {
  return (
    <RedirectButton
      onClick={() => signIn("oidc", { callbackUrl })}
      busyLabel="Redirecting…"
      className="w-full bg-indigo-600 px-4 py-2.5 text-white shadow-sm hover:bg-indigo-500"
    >
      Sign in with SSO
    </RedirectButton>
  );
}

/** Starts DingTalk login (OAuth 2 at DingTalk's login page). */
export function DingTalkSignInButton({ callbackUrl }: { callbackUrl: string }) {
  return (
    <RedirectButton
      onClick={() => signIn("dingtalk", { callbackUrl })}
      busyLabel="Redirecting…"
      className="w-full bg-white px-4 py-2.5 text-slate-800 shadow-sm ring-1 ring-slate-300 hover:bg-slate-50"
    >
      Sign in with DingTalk
    </RedirectButton>
  );
}
