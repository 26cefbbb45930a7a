import Link from "next/link";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { SignOutButton } from "~/components/auth-buttons.tsx";
import { RoleBadge } from "~/components/badges.tsx";
import { SafeModeBanner } from "~/components/safe-mode-banner.tsx";
import { SidebarNav } from "~/components/sidebar-nav.tsx";
import { getSession } from "~/server/auth.ts";

export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const session = await getSession();
  if (!session) redirect("/signin");
  const { user } = session;

  return (
    <div className="flex min-h-screen flex-col">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:m-2 focus:rounded focus:bg-white focus:px-3 focus:py-2"
      >
        Skip to content
      </a>
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-7xl items-center justify-between gap-4 px-4 py-3 sm:px-6">
          <Link href="/overview" className="flex items-center gap-2 text-lg font-semibold tracking-tight">
            <span aria-hidden className="grid size-7 place-items-center rounded-md bg-indigo-600 text-sm text-white">
              C
            </span>
            Clawgate
          </Link>
          <div className="flex items-center gap-3">
            <span className="hidden text-sm text-slate-700 sm:inline" data-testid="user-name">
              {user.name ?? user.email}
            </span>
            <RoleBadge role={user.role} />
            <SignOutButton />
          </div>
        </div>
      </header>
      <SafeModeBanner />
      <div className="mx-auto flex w-full max-w-7xl flex-1 flex-col gap-6 px-4 py-6 sm:px-6 md:flex-row">
        <SidebarNav />
        <main id="main" className="min-w-0 flex-1">
          {children}
        </main>
      </div>
    </div>
  );
}
