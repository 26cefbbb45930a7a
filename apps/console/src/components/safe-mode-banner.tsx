"use client";
/**
 * The banner in the console frame, on every page, while any safe-mode activation or the kill
 * switch is in force: level, scope, who, until when, and a link to the safe-mode page. Polled, so
 * an activation made elsewhere (the CLI, another operator) or one that expires shows within seconds.
 */
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { formatDateTime } from "~/components/ui/format.ts";
import { useTRPC } from "~/trpc/react.tsx";

const LEVEL = { READ_ONLY: "Read-only", MAINTENANCE: "Maintenance" } as const;

export function SafeModeBanner() {
  const trpc = useTRPC();
  const state = useQuery({ ...trpc.safeMode.get.queryOptions(), refetchInterval: 15_000 });
  const s = state.data;
  if (!s || (s.activations.length === 0 && !s.killSwitch)) return null;
  const strict = s.level === "MAINTENANCE" || !!s.killSwitch;
  return (
    <aside
      aria-label="Safe mode in force"
      data-testid="safe-mode-banner"
      className={`border-b px-4 py-2 text-sm sm:px-6 ${strict ? "border-red-300 bg-red-100 text-red-950" : "border-amber-300 bg-amber-100 text-amber-950"}`}
    >
      <div className="mx-auto flex max-w-7xl flex-wrap items-start justify-between gap-x-4 gap-y-1">
        <ul className="space-y-0.5">
          {s.killSwitch && (
            <li>
              <strong>Kill switch ON</strong>: every WRITE and DESTRUCTIVE skill withdrawn, by {s.killSwitch.actorName}{" "}
              since {formatDateTime(s.killSwitch.startedAt)}
            </li>
          )}
          {s.activations.map((a) => (
            <li key={a.id}>
              <strong>Safe mode {LEVEL[a.level]}</strong> on{" "}
              <span className="font-mono text-xs">{a.scopes.length ? a.scopes.join(", ") : "everything"}</span>, by{" "}
              {a.actorName}, {a.expiresAt ? `until ${formatDateTime(a.expiresAt)}` : "until turned off"}
            </li>
          ))}
        </ul>
        <Link href="/safe-mode" className="font-semibold underline underline-offset-2">
          Safe mode page
        </Link>
      </div>
    </aside>
  );
}
