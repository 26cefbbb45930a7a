"use client";
import { signIn } from "next-auth/react";
import { useState } from "react";

/** Starts DingTalk login (OAuth 2 at DingTalk's login page); disabled once clicked. */
export function DingTalkSignInButton({ callbackUrl }: { callbackUrl: string }) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      disabled={busy}
      onClick={() => {
        setBusy(true);
        void signIn("dingtalk", { callbackUrl });
      }}
      className="w-full rounded-md bg-white px-4 py-2.5 text-sm font-semibold text-slate-800 shadow-sm ring-1 ring-slate-300 hover:bg-slate-50 disabled:cursor-wait disabled:opacity-60"
    >
      {busy ? "Redirecting…" : "Sign in with DingTalk"}
    </button>
  );
}
