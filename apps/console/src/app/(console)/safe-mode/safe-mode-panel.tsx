"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { ConfirmDialog } from "~/components/ui/confirm-dialog.tsx";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatDateTime } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { Pagination } from "~/components/ui/pagination.tsx";
import { DataTable, td } from "~/components/ui/table.tsx";
import { useTRPC } from "~/trpc/react.tsx";
import { errorText } from "../skills/error-text.ts";

type Level = "READ_ONLY" | "MAINTENANCE";
const LEVELS: Record<Level, { label: string; help: string }> = {
  READ_ONLY: {
    label: "Read-only",
    help: "Only READ skills run; writes and destructive skills are refused. Messages still get answers.",
  },
  MAINTENANCE: { label: "Maintenance", help: "No model call at all: every message gets the status message." },
};
const TTLS = [
  { label: "No expiry (until turned off)", ms: null },
  { label: "30 minutes", ms: 30 * 60_000 },
  { label: "1 hour", ms: 3_600_000 },
  { label: "2 hours", ms: 2 * 3_600_000 },
  { label: "4 hours", ms: 4 * 3_600_000 },
  { label: "8 hours", ms: 8 * 3_600_000 },
  { label: "24 hours", ms: 24 * 3_600_000 },
] as const;
const field = "mt-1 w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm";
const when = formatDateTime;

const scopeText = (scopes: readonly string[]) => (scopes.length ? scopes.join(", ") : "everything");

export function SafeModePanel({ canOperate }: { canOperate: boolean }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const status = useInlineStatus();
  const state = useQuery(trpc.safeMode.get.queryOptions());
  const settled = () =>
    Promise.all([
      qc.invalidateQueries(trpc.safeMode.get.pathFilter()),
      qc.invalidateQueries(trpc.safeMode.history.pathFilter()),
    ]);
  const set = useMutation(
    trpc.safeMode.set.mutationOptions({
      onSuccess: (r) =>
        status.success(
          r.kind === "off"
            ? `Safe mode ${r.active ? "activation ended (others stay in force)" : "is off"}. Live from config revision ${r.revision}.`
            : `Safe mode ${r.kind === "update" ? "updated" : "is on"}: ${LEVELS[r.level].label} on ${scopeText(r.scopes)}${r.expiresAt ? ` until ${when(r.expiresAt)}` : ""}. Live from config revision ${r.revision}.`,
        ),
      onSettled: settled,
    }),
  );
  const kill = useMutation(
    trpc.safeMode.killSwitch.mutationOptions({
      onSuccess: (r) =>
        status.success(
          r.active
            ? `Kill switch is on: every WRITE and DESTRUCTIVE skill is withdrawn. Live from config revision ${r.revision}.`
            : `Kill switch is off: skills are back as they were. Live from config revision ${r.revision}.`,
        ),
      onSettled: settled,
    }),
  );
  // The dialog shows the server's refusal inline (it rethrows); the form stays as typed.
  const run = async (input: Parameters<typeof set.mutateAsync>[0]) => {
    try {
      await set.mutateAsync(input);
    } catch (e) {
      throw new Error(errorText(e));
    }
  };
  const runKill = async (input: Parameters<typeof kill.mutateAsync>[0]) => {
    try {
      await kill.mutateAsync(input);
    } catch (e) {
      throw new Error(errorText(e));
    }
  };

  if (state.isPending) return <LoadingState label="Loading safe mode…" />;
  if (state.error)
    return <ErrorState title="Safe mode could not be loaded." error={state.error} onRetry={state.refetch} />;
  const s = state.data;

  return (
    <div className="space-y-6">
      <InlineStatus status={status.current} onDismiss={status.clear} />
      <section
        aria-labelledby="sm-state"
        data-testid="safe-mode-state"
        className={`rounded-lg border p-4 shadow-sm ${s.level === "MAINTENANCE" ? "border-red-300 bg-red-50" : s.active ? "border-amber-300 bg-amber-50" : "border-slate-200 bg-white"}`}
      >
        <h2 id="sm-state" className="text-lg font-semibold">
          {s.level ? `Safe mode is ON: ${LEVELS[s.level].label}` : "Safe mode is off"}
        </h2>
        {s.activations.length === 0 ? (
          <p className="mt-1 text-sm text-slate-600">The robot runs with its normal policy.</p>
        ) : (
          <ul className="mt-2 space-y-3">
            {s.activations.map((a) => (
              <li
                key={a.id}
                className="rounded-md bg-white/70 p-3 ring-1 ring-slate-200"
                data-testid="safe-mode-activation"
              >
                <dl className="grid gap-x-6 gap-y-1 text-sm sm:grid-cols-[auto_1fr]">
                  <dt className="font-medium text-slate-700">Level</dt>
                  <dd>{LEVELS[a.level].label}</dd>
                  <dt className="font-medium text-slate-700">Scope</dt>
                  <dd className="font-mono text-xs">{scopeText(a.scopes)}</dd>
                  <dt className="font-medium text-slate-700">Since</dt>
                  <dd>
                    {when(a.startedAt)}, by {a.actorName}
                    {a.actorType === "CLI" ? " (CLI)" : ""}
                  </dd>
                  <dt className="font-medium text-slate-700">Why</dt>
                  <dd>{a.reason}</dd>
                  <dt className="font-medium text-slate-700">Ends</dt>
                  <dd>{a.expiresAt ? `${when(a.expiresAt)} (by itself)` : "when someone turns it off"}</dd>
                  <dt className="font-medium text-slate-700">Users see</dt>
                  <dd>
                    {a.message ??
                      (a.level === "MAINTENANCE" ? "the default maintenance message" : "the default safe-mode message")}
                  </dd>
                </dl>
                {canOperate && <EndActivation id={a.id} scope={scopeText(a.scopes)} run={run} />}
              </li>
            ))}
          </ul>
        )}
      </section>
      <KillSwitch active={s.killSwitch} canOperate={canOperate} run={runKill} />
      {canOperate ? (
        <Controls run={run} />
      ) : (
        <p className="text-sm text-slate-600">Operators and admins can switch safe mode.</p>
      )}
      <History />
    </div>
  );
}

function EndActivation(props: {
  id: string;
  scope: string;
  run: (input: { active: false; id: string; reason: string }) => Promise<void>;
}) {
  const [open, setOpen] = useState(false);
  return (
    <div className="mt-2 flex justify-end">
      <button
        type="button"
        data-mutates
        onClick={() => setOpen(true)}
        aria-label={`Turn safe mode off on ${props.scope}…`}
        className="rounded-md px-3 py-1.5 text-sm font-semibold text-slate-800 ring-1 ring-slate-300 hover:bg-slate-100"
      >
        Turn safe mode off…
      </button>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        title="Turn safe mode off?"
        description={`The activation on ${props.scope} ends on every runtime within about a second; other activations stay.`}
        reason={{ label: "Why is it safe to end it?", required: true }}
        confirmLabel="Turn off"
        onConfirm={(why) => props.run({ active: false, id: props.id, reason: why })}
      />
    </div>
  );
}

function KillSwitch(props: {
  active: { startedAt: Date; actorName: string; reason: string } | null;
  canOperate: boolean;
  run: (input: { active: boolean; reason: string }) => Promise<void>;
}) {
  const [open, setOpen] = useState(false);
  const on = !!props.active;
  return (
    <section
      aria-labelledby="ks-title"
      data-testid="kill-switch"
      className={`rounded-lg border p-4 shadow-sm ${on ? "border-red-300 bg-red-50" : "border-slate-200 bg-white"}`}
    >
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div>
          <h2 id="ks-title" className="text-base font-semibold">
            {on ? "Kill switch is ON" : "Kill switch is off"}
          </h2>
          <p className="mt-1 text-sm text-slate-700">
            {props.active
              ? `Every WRITE and DESTRUCTIVE skill is withdrawn since ${when(props.active.startedAt)}, by ${props.active.actorName}: ${props.active.reason}`
              : "One action withdraws every WRITE and DESTRUCTIVE skill; off puts each back exactly as it was."}
          </p>
        </div>
        {props.canOperate && (
          <button
            type="button"
            data-mutates
            onClick={() => setOpen(true)}
            className={
              on
                ? "rounded-md px-3 py-1.5 text-sm font-semibold text-slate-800 ring-1 ring-slate-300 hover:bg-slate-100"
                : "rounded-md bg-red-700 px-3 py-1.5 text-sm font-semibold text-white hover:bg-red-600"
            }
          >
            {on ? "Turn the kill switch off…" : "Kill switch…"}
          </button>
        )}
      </div>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        variant={on ? "default" : "danger"}
        title={on ? "Turn the kill switch off?" : "Pull the kill switch?"}
        description={
          on
            ? "Skills go back to exactly the state they had: a skill disabled before stays disabled."
            : "Every WRITE and DESTRUCTIVE skill is withdrawn on every runtime within about a second. The ops chats are told."
        }
        reason={{ label: "Reason", required: true }}
        confirmLabel={on ? "Turn off" : "Withdraw all writes"}
        onConfirm={(why) => props.run({ active: !on, reason: why })}
      />
    </section>
  );
}

function Controls(props: {
  run: (input: {
    active: boolean;
    scopes?: string[];
    level?: Level;
    reason: string;
    ttlMs?: number | null;
    message?: string;
  }) => Promise<void>;
}) {
  const id = useId();
  const [level, setLevel] = useState<Level>("READ_ONLY");
  const [scope, setScope] = useState("");
  const [reason, setReason] = useState("");
  const [ttl, setTtl] = useState("0");
  const [message, setMessage] = useState("");
  const [confirmOn, setConfirmOn] = useState(false);
  const ttlChoice = TTLS[Number(ttl)];
  const scopes = scope.split(/[\s,]+/).filter(Boolean);

  function submit(e: FormEvent) {
    e.preventDefault();
    if (reason.trim()) setConfirmOn(true);
  }

  return (
    <section aria-labelledby={`${id}-title`} className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
      <h2 id={`${id}-title`} className="text-base font-semibold">
        Turn safe mode on
      </h2>
      <p className="mt-1 text-sm text-slate-600">
        With the scope of an activation in force, this changes that activation instead.
      </p>
      <form onSubmit={submit} className="mt-3 space-y-4">
        <div>
          <label htmlFor={`${id}-scope`} className="block text-sm font-medium text-slate-700">
            Scope (empty: everything)
          </label>
          <input
            id={`${id}-scope`}
            value={scope}
            onChange={(e) => setScope(e.target.value)}
            placeholder="conversation:cid-… skill:ticket.create risk:WRITE"
            autoComplete="off"
            className={`${field} font-mono`}
          />
          <p className="mt-1 text-xs text-slate-600">
            Conversations get the level; skills and risk classes are withdrawn (in the named conversations, or
            everywhere).
          </p>
        </div>
        <fieldset>
          <legend className="text-sm font-medium text-slate-700">Level</legend>
          <div className="mt-1 grid gap-2 sm:grid-cols-2">
            {(Object.keys(LEVELS) as Level[]).map((l) => (
              <label
                key={l}
                className={`flex cursor-pointer gap-2 rounded-md p-3 text-sm ring-1 ${level === l ? "bg-indigo-50 ring-indigo-400" : "ring-slate-200"}`}
              >
                <input
                  type="radio"
                  name={`${id}-level`}
                  value={l}
                  checked={level === l}
                  onChange={() => setLevel(l)}
                  className="mt-0.5 accent-indigo-600"
                />
                <span>
                  <span className="font-semibold">{LEVELS[l].label}</span>
                  <span className="block text-slate-600">{LEVELS[l].help}</span>
                </span>
              </label>
            ))}
          </div>
        </fieldset>
        <div className="grid gap-4 sm:grid-cols-2">
          <div>
            <label htmlFor={`${id}-reason`} className="block text-sm font-medium text-slate-700">
              Reason (required)
            </label>
            <input
              id={`${id}-reason`}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              required
              maxLength={500}
              placeholder="e.g. INC-42: ticket API writes failing"
              autoComplete="off"
              className={field}
            />
          </div>
          <div>
            <label htmlFor={`${id}-ttl`} className="block text-sm font-medium text-slate-700">
              Switch off by itself after
            </label>
            <select id={`${id}-ttl`} value={ttl} onChange={(e) => setTtl(e.target.value)} className={field}>
              {TTLS.map((t, i) => (
                <option key={t.label} value={String(i)}>
                  {t.label}
                </option>
              ))}
            </select>
          </div>
        </div>
        <div>
          <label htmlFor={`${id}-message`} className="block text-sm font-medium text-slate-700">
            Message to users (optional)
          </label>
          <textarea
            id={`${id}-message`}
            value={message}
            onChange={(e) => setMessage(e.target.value)}
            maxLength={500}
            rows={2}
            placeholder="The robot is in maintenance until 14:00."
            className={field}
          />
        </div>
        <div className="flex flex-wrap justify-end gap-2">
          <button
            type="submit"
            data-mutates
            className="rounded-md bg-red-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-red-500"
          >
            Turn safe mode on…
          </button>
        </div>
      </form>
      <ConfirmDialog
        open={confirmOn}
        onOpenChange={setConfirmOn}
        variant="danger"
        title="Turn safe mode on?"
        description={
          <>
            <strong>{LEVELS[level].label}</strong> on <strong>{scopeText(scopes)}</strong>: {LEVELS[level].help}{" "}
            {ttlChoice?.ms ? `It ends by itself after ${ttlChoice.label}.` : "It stays on until someone turns it off."}{" "}
            Every runtime applies it within about a second.
          </>
        }
        confirmLabel="Turn on"
        onConfirm={() =>
          props.run({
            active: true,
            scopes,
            level,
            reason: reason.trim(),
            ttlMs: ttlChoice?.ms ?? null,
            message: message.trim(),
          })
        }
      />
    </section>
  );
}

function History() {
  const trpc = useTRPC();
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors.at(-1);
  const history = useQuery(trpc.safeMode.history.queryOptions(cursor ? { cursor, limit: 10 } : { limit: 10 }));

  return (
    <section aria-labelledby="sm-history" className="space-y-2">
      <h2 id="sm-history" className="text-base font-semibold">
        History
      </h2>
      {history.isPending ? (
        <LoadingState label="Loading the history…" />
      ) : history.error ? (
        <ErrorState title="The history could not be loaded." error={history.error} onRetry={history.refetch} />
      ) : history.data.items.length === 0 ? (
        <EmptyState title="Safe mode has never been on">
          Each activation appears here: who, when, why and how it ended.
        </EmptyState>
      ) : (
        <>
          <DataTable
            caption="Safe mode activations, newest first"
            captionHidden
            columns={["Started", "Level", "Scope", "Why", "Ended"]}
          >
            {history.data.items.map((e) => (
              <tr key={e.id}>
                <td className={`${td} whitespace-nowrap`}>
                  {when(e.startedAt)}
                  <span className="block text-slate-600">by {e.actorName}</span>
                </td>
                <td className={td}>{e.kind === "KILL_SWITCH" ? "Kill switch" : LEVELS[e.level].label}</td>
                <td className={`${td} font-mono text-xs`}>
                  {e.kind === "KILL_SWITCH" ? "WRITE and DESTRUCTIVE skills" : scopeText(e.scopes)}
                </td>
                <td className={`${td} min-w-48`}>{e.reason}</td>
                <td className={`${td} min-w-48`}>
                  {e.endedAt ? (
                    <>
                      {when(e.endedAt)}
                      <span className="block text-slate-600">
                        {e.endedBy === "ttl" ? "expired (TTL)" : `by ${e.endedBy ?? "unknown"}`}
                        {e.endReason && e.endedBy !== "ttl" ? `: ${e.endReason}` : ""}
                      </span>
                    </>
                  ) : e.expiresAt && e.expiresAt.getTime() <= history.data.now.getTime() ? (
                    <span className="text-slate-600">expired {when(e.expiresAt)} (TTL)</span>
                  ) : (
                    <span className="font-medium text-amber-800">
                      ongoing{e.expiresAt ? `, ends ${when(e.expiresAt)}` : ""}
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </DataTable>
          <Pagination
            label="Safe mode history"
            summary={`${history.data.total} activation${history.data.total === 1 ? "" : "s"}`}
            hasPrevious={cursors.length > 1}
            hasNext={!!history.data.nextCursor}
            onPrevious={() => setCursors((c) => c.slice(0, -1))}
            onNext={() => history.data.nextCursor && setCursors((c) => [...c, history.data.nextCursor!])}
          />
        </>
      )}
    </section>
  );
}
