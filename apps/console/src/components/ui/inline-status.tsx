"use client";
/**
 * Mutation feedback: `useInlineStatus()` keeps one message (success or error) and clears a
 * success after a few seconds; `<InlineStatus status={...} />` renders it in a live region
 * (role="status" for success, role="alert" for errors) so screen readers announce it.
 *
 *   const status = useInlineStatus();
 *   useMutation({ onSuccess: () => status.success("Group enabled."), onError: (e) => status.error(e.message) });
 *   <InlineStatus status={status.current} onDismiss={status.clear} />
 */
import { useCallback, useEffect, useRef, useState } from "react";

export interface StatusMessage {
  kind: "success" | "error";
  text: string;
}

export function useInlineStatus(successMs = 4000) {
  const [current, setCurrent] = useState<StatusMessage | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const clear = useCallback(() => {
    clearTimeout(timer.current);
    setCurrent(null);
  }, []);
  const success = useCallback(
    (text: string) => {
      clearTimeout(timer.current);
      setCurrent({ kind: "success", text });
      timer.current = setTimeout(() => setCurrent(null), successMs);
    },
    [successMs],
  );
  const error = useCallback((text: string) => {
    clearTimeout(timer.current); // errors stay until dismissed or replaced
    setCurrent({ kind: "error", text });
  }, []);
  return { current, success, error, clear };
}

export function InlineStatus({ status, onDismiss }: { status: StatusMessage | null; onDismiss?: () => void }) {
  // The live regions are always rendered so the announcement fires when text appears.
  return (
    <div className="min-h-0">
      <div role="status" aria-live="polite">
        {status?.kind === "success" && <Message status={status} onDismiss={onDismiss} />}
      </div>
      <div role="alert">{status?.kind === "error" && <Message status={status} onDismiss={onDismiss} />}</div>
    </div>
  );
}

function Message({ status, onDismiss }: { status: StatusMessage; onDismiss?: () => void }) {
  const tone =
    status.kind === "success"
      ? "bg-emerald-50 text-emerald-900 ring-emerald-600/30"
      : "bg-red-50 text-red-900 ring-red-600/30";
  return (
    <div className={`flex items-start justify-between gap-3 rounded-md px-3 py-2 text-sm ring-1 ring-inset ${tone}`}>
      <span>{status.text}</span>
      {onDismiss && (
        <button type="button" onClick={onDismiss} className="shrink-0 font-semibold underline-offset-2 hover:underline">
          Dismiss
        </button>
      )}
    </div>
  );
}
