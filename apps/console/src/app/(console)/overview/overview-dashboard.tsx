"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import type { ReactNode } from "react";
import { BarChart } from "~/components/ui/bar-chart.tsx";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatDateTime, formatHour, formatNumber, plural, timeAgo } from "~/components/ui/format.ts";
import { UsageBar } from "~/components/ui/usage-bar.tsx";
import type { OverviewData } from "~/server/api/routers/overview.ts";
import { useTRPC } from "~/trpc/react.tsx";

/** Poll often enough that "applied on all replicas" shows within ~2 s of a change. */
const POLL_MS = 1_500;

const time = formatDateTime;
const hourLabel = formatHour;
const ago = timeAgo;

function Card({ title, children, action, id }: { title: string; children: ReactNode; action?: ReactNode; id: string }) {
  return (
    <section aria-labelledby={id} className="min-w-0 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
      <div className="mb-3 flex items-baseline justify-between gap-2">
        <h2 id={id} className="text-sm font-semibold text-slate-900">
          {title}
        </h2>
        {action}
      </div>
      {children}
    </section>
  );
}

function SafeModeCard({ s }: { s: OverviewData["safeMode"] }) {
  const link = (
    <Link href="/safe-mode" className="text-sm font-medium text-indigo-700 hover:underline">
      Safe mode
    </Link>
  );
  if (!s.active && !s.killSwitch)
    return (
      <Card id="ov-safe-mode" title="Safe mode" action={link}>
        <p className="flex items-center gap-2 text-sm" data-testid="safe-mode-state">
          <span aria-hidden className="size-2.5 rounded-full bg-emerald-500" />
          Off: the robot runs normally.
        </p>
      </Card>
    );
  return (
    <section
      aria-labelledby="ov-safe-mode"
      className="min-w-0 rounded-lg border border-amber-300 bg-amber-50 p-4 shadow-sm"
    >
      <div className="mb-2 flex items-baseline justify-between gap-2">
        <h2 id="ov-safe-mode" className="text-sm font-semibold text-amber-900">
          Safe mode
        </h2>
        {link}
      </div>
      {s.killSwitch && (
        <p className="text-sm font-semibold text-red-800" data-testid="kill-switch-state">
          Kill switch on: every WRITE and DESTRUCTIVE skill is withdrawn.
        </p>
      )}
      {s.active ? (
        <>
          <p className="text-sm font-semibold text-amber-900" data-testid="safe-mode-state">
            On{s.scopes.length > 0 ? ` for ${s.scopes.join(", ")}` : ""}:{" "}
            {s.level === "READ_ONLY" ? "read-only (only READ skills run)" : "maintenance (no model calls)"}
          </p>
          {s.activations > 1 && (
            <p className="text-sm text-amber-900" data-testid="safe-mode-count">
              {s.activations} activations in force; the strictest is shown.
            </p>
          )}
          <dl className="mt-2 grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm text-amber-950">
            <dt className="text-amber-800">Scope</dt>
            <dd>{s.scopes.length > 0 ? s.scopes.join(", ") : "everything"}</dd>
            <dt className="text-amber-800">Reason</dt>
            <dd>{s.reason ?? "not recorded"}</dd>
            <dt className="text-amber-800">Since</dt>
            <dd>
              {s.since ? time(s.since) : "unknown"}
              {s.actorName && ` by ${s.actorName}`}
            </dd>
            <dt className="text-amber-800">Expires</dt>
            <dd>{s.expiresAt ? time(s.expiresAt) : "no expiry: someone must turn it off"}</dd>
          </dl>
        </>
      ) : (
        <p className="text-sm text-amber-900" data-testid="safe-mode-state">
          No safe-mode activation in force.
        </p>
      )}
    </section>
  );
}

function ReplicasCard({ c, now }: { c: OverviewData["config"]; now: Date }) {
  const latest = c.latest?.revision;
  const all = c.online > 0 && c.upToDate === c.online;
  return (
    <Card id="ov-replicas" title="Runtime replicas">
      {c.latest ? (
        <p className="text-sm text-slate-700">
          Latest config revision <strong className="tabular-nums">#{c.latest.revision}</strong>{" "}
          <span className="text-slate-500">
            ({ago(c.latest.at, now)} by {c.latest.actorName}: {c.latest.summary})
          </span>
        </p>
      ) : (
        <p className="text-sm text-slate-600">No config revision yet.</p>
      )}
      <p
        role="status"
        data-testid="applied-status"
        className={`mt-2 text-sm font-semibold ${all ? "text-emerald-700" : "text-amber-800"}`}
      >
        {c.replicas.length === 0
          ? "No runtime replica has reported in."
          : c.online === 0
            ? "All replicas are offline."
            : all
              ? `Applied on all ${c.online} online replica${c.online === 1 ? "" : "s"}`
              : `Applied on ${c.upToDate} of ${c.online} online replicas`}
      </p>
      {c.replicas.length > 0 && (
        <div className="relative mt-3 overflow-x-auto">
          <table className="min-w-full text-sm">
            <caption className="sr-only">Runtime replicas and the config revision each has applied</caption>
            <thead>
              <tr className="text-left text-xs tracking-wide text-slate-500 uppercase">
                <th scope="col" className="py-1 pr-4 font-semibold">
                  Replica
                </th>
                <th scope="col" className="py-1 pr-4 font-semibold">
                  State
                </th>
                <th scope="col" className="py-1 pr-4 font-semibold">
                  Revision
                </th>
                <th scope="col" className="py-1 font-semibold">
                  Heartbeat
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {c.replicas.map((r) => (
                <tr key={r.id} className="align-top">
                  <th scope="row" className="py-1.5 pr-4 text-left font-normal whitespace-nowrap">
                    <span className="block font-medium">{r.hostname}</span>
                    <span className="block text-xs text-slate-500">
                      pid {r.pid} · {r.mode} · v{r.version}
                    </span>
                  </th>
                  <td className="py-1.5 pr-4 whitespace-nowrap">
                    <span className="inline-flex items-center gap-1.5">
                      <span
                        aria-hidden
                        className={`size-2 rounded-full ${r.online ? "bg-emerald-500" : "bg-slate-400"}`}
                      />
                      {r.online ? "Online" : "Offline"}
                    </span>
                  </td>
                  <td className="py-1.5 pr-4 whitespace-nowrap tabular-nums">
                    {r.appliedRevision === null ? "none yet" : `#${r.appliedRevision}`}
                    {r.online && latest !== undefined && !r.upToDate && (
                      <span className="ml-1 text-amber-700">(behind)</span>
                    )}
                  </td>
                  <td className="py-1.5 whitespace-nowrap text-slate-600">{ago(r.heartbeatAt, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

function Stat({
  label,
  value,
  detail,
  tone,
}: {
  label: string;
  value: number;
  detail?: string;
  tone?: "warn" | "bad";
}) {
  const color =
    value > 0 && tone === "bad" ? "text-red-700" : value > 0 && tone === "warn" ? "text-amber-700" : "text-slate-900";
  return (
    <div className="rounded-md bg-slate-50 px-3 py-2">
      <dt className="text-xs font-medium text-slate-600">{label}</dt>
      <dd className={`text-2xl font-semibold tabular-nums ${color}`}>{formatNumber(value)}</dd>
      {detail && <dd className="text-xs text-slate-500">{detail}</dd>}
    </div>
  );
}

function ActivityCard({ d }: { d: OverviewData["last24h"] }) {
  const t = d.totals;
  return (
    <Card id="ov-activity" title="Last 24 hours">
      <dl className="grid grid-cols-2 gap-2 sm:grid-cols-4">
        <Stat label="Inbound messages" value={t.inbound} />
        <Stat label="Replies" value={t.replied} />
        <Stat
          label="Denials"
          value={t.denied + t.skillDenied}
          detail={`${plural(t.denied, "message")} · ${plural(t.skillDenied, "skill call")}`}
          tone="warn"
        />
        <Stat
          label="Errors"
          value={t.failed + t.skillErrors}
          detail={`${plural(t.failed, "message")} · ${plural(t.skillErrors, "skill call")}`}
          tone="bad"
        />
      </dl>
      <div className="mt-4 grid gap-4 sm:grid-cols-2">
        <div>
          <p className="text-xs font-medium text-slate-600">Inbound messages per hour</p>
          <BarChart
            label="Inbound messages per hour, last 24 h"
            data={d.hourly.map((b) => ({ label: hourLabel(b.hour), value: b.inbound }))}
          />
        </div>
        <div>
          <p className="text-xs font-medium text-slate-600">Denials and errors per hour</p>
          <BarChart
            label="Denials and errors per hour, last 24 h"
            tone="fill-amber-500"
            data={d.hourly.map((b) => ({
              label: hourLabel(b.hour),
              value: b.denied + b.failed + b.skillDenied + b.skillErrors,
            }))}
          />
        </div>
      </div>
      <p className="mt-1 flex justify-between text-xs text-slate-500" aria-hidden>
        <span>{hourLabel(d.since)}</span>
        <span>now</span>
      </p>
    </Card>
  );
}

function TopSkillsCard({ skills }: { skills: OverviewData["topSkills"] }) {
  return (
    <Card id="ov-skills" title="Top skills (24 h)">
      {skills.length === 0 ? (
        <p className="text-sm text-slate-600">No skill calls in the last 24 hours.</p>
      ) : (
        <ol className="space-y-1.5 text-sm">
          {skills.map((s) => (
            <li key={s.skillKey} className="flex items-baseline justify-between gap-3">
              <code className="font-mono font-semibold">{s.skillKey}</code>
              <span className="text-right text-slate-600 tabular-nums">
                {plural(s.calls, "call")}
                {s.denied > 0 && <span className="text-amber-700"> · {formatNumber(s.denied)} denied</span>}
                {s.errors > 0 && <span className="text-red-700"> · {plural(s.errors, "error")}</span>}
              </span>
            </li>
          ))}
        </ol>
      )}
    </Card>
  );
}

function budgetLabel(b: OverviewData["budgets"][number]): string {
  if (b.scope === "GLOBAL") return "Organisation";
  if (b.scope === "DEFAULT")
    return b.subject
      ? `Default (busiest: ${b.subjectScope.toLowerCase()} ${b.subject})`
      : "Default (per conversation and user)";
  return `${b.scope === "CONVERSATION" ? "Conversation" : "User"} ${b.subject}`;
}

function BudgetsCard({ budgets }: { budgets: OverviewData["budgets"] }) {
  return (
    <Card
      id="ov-budgets"
      title="Token budgets today"
      action={
        <Link href="/budgets" className="text-sm font-medium text-indigo-700 hover:underline">
          Budgets
        </Link>
      }
    >
      {budgets.length === 0 ? (
        <p className="text-sm text-slate-600">No daily token budget is set.</p>
      ) : (
        <div className="space-y-3">
          {budgets.map((b) => (
            <UsageBar
              key={`${b.scope}:${b.subject}`}
              label={budgetLabel(b)}
              used={b.used + b.reserved}
              limit={b.limit}
              unit="tokens"
            />
          ))}
        </div>
      )}
    </Card>
  );
}

export function OverviewDashboard() {
  const trpc = useTRPC();
  const { data, error, isPending, refetch } = useQuery({
    ...trpc.overview.get.queryOptions(),
    refetchInterval: POLL_MS,
  });

  if (isPending) return <LoadingState label="Loading the overview…" />;
  if (error && !data) return <ErrorState title="The overview could not be loaded." error={error} onRetry={refetch} />;
  if (!data) return <EmptyState title="Nothing to show" />;

  return (
    <div className="space-y-4">
      {error && (
        <p role="alert" className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900 ring-1 ring-amber-600/30">
          Live updates paused: {error.message}. Showing the last data received.
        </p>
      )}
      <div className="grid gap-4 lg:grid-cols-2">
        <SafeModeCard s={data.safeMode} />
        <ReplicasCard c={data.config} now={data.now} />
      </div>
      <ActivityCard d={data.last24h} />
      <div className="grid gap-4 lg:grid-cols-2">
        <TopSkillsCard skills={data.topSkills} />
        <BudgetsCard budgets={data.budgets} />
      </div>
    </div>
  );
}
