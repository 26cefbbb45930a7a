"use client";
import { signIn, signOut } from "next-auth/react";
import { useState } from "react";

const button =
  "rounded-md text-sm font-semibold disabled:cursor-wait disabled:opacity-60";

export function SignOutButton() {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      disabled={busy}
      onClick={() => {
        setBusy(true);
        void signOut({ callbackUrl: "/signin" });
      }}
      className={`${button} px-3 py-1.5 text-slate-600 ring-1 ring-slate-300 hover:bg-slate-100`}
    >
      Sign out
    </button>
  );
}

export function SsoSignInButton({ callbackUrl }: { callbackUrl: string }) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      disabled={busy}
      onClick={() => {
        setBusy(true);
        void signIn("oidc", { callbackUrl });
      }}
      className={`${button} w-full bg-indigo-600 px-4 py-2.5 text-white shadow-sm hover:bg-indigo-500`}
    >
      {busy ? "Redirecting…" : "Sign in with SSO"}
    </button>
  );
}
