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

export function SafeModePanel({ canOperate }: { canOperate: boolean }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const status = useInlineStatus();
  const state = useQuery(trpc.safeMode.get.queryOptions());
  const set = useMutation(
    trpc.safeMode.set.mutationOptions({
      onSuccess: (r) =>
        status.success(
          r.kind === "off"
            ? `Safe mode is off. Live from config revision ${r.revision}.`
            : `Safe mode ${r.kind === "update" ? "updated" : "is on"}: ${LEVELS[r.level].label}${r.expiresAt ? ` until ${when(r.expiresAt)}` : ""}. Live from config revision ${r.revision}.`,
        ),
      onSettled: () =>
        Promise.all([
          qc.invalidateQueries(trpc.safeMode.get.pathFilter()),
          qc.invalidateQueries(trpc.safeMode.history.pathFilter()),
        ]),
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
        className={`rounded-lg border p-4 shadow-sm ${s.active ? (s.level === "MAINTENANCE" ? "border-red-300 bg-red-50" : "border-amber-300 bg-amber-50") : "border-slate-200 bg-white"}`}
      >
        <h2 id="sm-state" className="text-lg font-semibold">
          {s.active ? `Safe mode is ON: ${LEVELS[s.level].label}` : "Safe mode is off"}
        </h2>
        {s.active && s.event ? (
          <dl className="mt-2 grid gap-x-6 gap-y-1 text-sm sm:grid-cols-[auto_1fr]">
            <dt className="font-medium text-slate-700">Since</dt>
            <dd>
              {when(s.event.startedAt)}, by {s.event.actorName}
              {s.event.actorType === "CLI" ? " (CLI)" : ""}
            </dd>
            <dt className="font-medium text-slate-700">Why</dt>
            <dd>{s.event.reason}</dd>
            <dt className="font-medium text-slate-700">Ends</dt>
            <dd>{s.event.expiresAt ? `${when(s.event.expiresAt)} (by itself)` : "when someone turns it off"}</dd>
            <dt className="font-medium text-slate-700">Users see</dt>
            <dd>
              {s.message ??
                (s.level === "MAINTENANCE" ? "the default maintenance message" : "the default read-only message")}
            </dd>
          </dl>
        ) : (
          <p className="mt-1 text-sm text-slate-600">
            {s.expired && s.event?.expiresAt ? `The last activation expired at ${when(s.event.expiresAt)}. ` : ""}The
            robot runs with its normal policy.
          </p>
        )}
      </section>
      {canOperate ? (
        <Controls
          key={s.event?.id ?? "off"}
          active={s.active}
          current={s.active ? { level: s.level, message: s.message } : null}
          run={run}
        />
      ) : (
        <p className="text-sm text-slate-600">Operators and admins can switch safe mode.</p>
      )}
      <History />
    </div>
  );
}

function Controls(props: {
  active: boolean;
  current: { level: Level; message: string | null } | null;
  run: (input: {
    active: boolean;
    level?: Level;
    reason: string;
    ttlMs?: number | null;
    message?: string;
  }) => Promise<void>;
}) {
  const id = useId();
  const [level, setLevel] = useState<Level>(props.current?.level ?? "READ_ONLY");
  const [reason, setReason] = useState("");
  const [ttl, setTtl] = useState(props.active ? "" : "0");
  const [message, setMessage] = useState(props.current?.message ?? "");
  const [confirmOn, setConfirmOn] = useState(false);
  const [confirmOff, setConfirmOff] = useState(false);
  const ttlChoice = ttl === "" ? undefined : TTLS[Number(ttl)];

  function submit(e: FormEvent) {
    e.preventDefault();
    if (reason.trim()) setConfirmOn(true);
  }

  return (
    <section aria-labelledby={`${id}-title`} className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
      <h2 id={`${id}-title`} className="text-base font-semibold">
        {props.active ? "Change or end safe mode" : "Turn safe mode on"}
      </h2>
      <form onSubmit={submit} className="mt-3 space-y-4">
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
              {props.active && <option value="">Keep the current end</option>}
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
          {props.active && (
            <button
              type="button"
              data-mutates
              onClick={() => setConfirmOff(true)}
              className="rounded-md px-3 py-1.5 text-sm font-semibold text-slate-800 ring-1 ring-slate-300 hover:bg-slate-100"
            >
              Turn safe mode off…
            </button>
          )}
          <button
            type="submit"
            data-mutates
            className="rounded-md bg-red-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-red-500"
          >
            {props.active ? "Update safe mode…" : "Turn safe mode on…"}
          </button>
        </div>
      </form>
      <ConfirmDialog
        open={confirmOn}
        onOpenChange={setConfirmOn}
        variant="danger"
        title={props.active ? "Update safe mode?" : "Turn safe mode on?"}
        description={
          <>
            <strong>{LEVELS[level].label}</strong>: {LEVELS[level].help}{" "}
            {ttlChoice
              ? ttlChoice.ms
                ? `It ends by itself after ${ttlChoice.label}.`
                : "It stays on until someone turns it off."
              : "Its end stays as it is."}{" "}
            Every runtime applies it within about a second.
          </>
        }
        confirmLabel={props.active ? "Update" : "Turn on"}
        onConfirm={() =>
          props.run({
            active: true,
            level,
            reason: reason.trim(),
            ...(ttlChoice ? { ttlMs: ttlChoice.ms } : {}),
            message: message.trim(),
          })
        }
      />
      <ConfirmDialog
        open={confirmOff}
        onOpenChange={setConfirmOff}
        title="Turn safe mode off?"
        description="The robot goes back to its normal policy on every runtime within about a second."
        reason={{ label: "Why is it safe to end it?", required: true }}
        confirmLabel="Turn off"
        onConfirm={(why) => props.run({ active: false, reason: why })}
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
            columns={["Started", "Level", "Why", "Ended"]}
          >
            {history.data.items.map((e) => (
              <tr key={e.id}>
                <td className={`${td} whitespace-nowrap`}>
                  {when(e.startedAt)}
                  <span className="block text-slate-600">by {e.actorName}</span>
                </td>
                <td className={td}>{LEVELS[e.level].label}</td>
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
