"use client";
/**
 * ConfirmDialog: a modal confirmation built on the native <dialog> element.
 *
 * `showModal()` gives the accessibility for free: the rest of the page becomes inert (focus cannot
 * leave the dialog into the page; that is the focus trap), Esc fires `cancel` (we close), the
 * dialog is announced as modal and labelled by its title and description. Focus goes to the first
 * field (or Cancel for a danger dialog, so Enter never confirms a destructive action by accident)
 * and returns to the opener on close.
 *
 * Optional extras: `confirmText` (the user must type e.g. the target's name to enable Confirm)
 * and `reason` (a textarea; required when `reason.required`). `onConfirm` may be async: the
 * dialog stays open with a busy button until it settles, and shows its error inline.
 *
 *   <ConfirmDialog open={open} onOpenChange={setOpen} title="Disable group?" variant="danger"
 *     description="The robot stops answering there." confirmLabel="Disable"
 *     onConfirm={() => mutation.mutateAsync({ id })} />
 */
import { useEffect, useId, useRef, useState, type ReactNode } from "react";

export interface ConfirmDialogProps {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description?: ReactNode;
  confirmLabel?: string;
  cancelLabel?: string;
  /** "danger" paints the confirm button red and focuses Cancel first. */
  variant?: "default" | "danger";
  /** The user must type this exact text to enable Confirm (e.g. the name of what is deleted). */
  confirmText?: string;
  /** Ask for a reason; passed to onConfirm. */
  reason?: { label?: string; required?: boolean; placeholder?: string; maxLength?: number };
  /** Called with the reason (empty string when not asked). Throwing keeps the dialog open with the message. */
  onConfirm: (reason: string) => unknown;
}

const btn = "rounded-md px-3 py-1.5 text-sm font-semibold disabled:cursor-not-allowed disabled:opacity-50";

export function ConfirmDialog(props: ConfirmDialogProps) {
  const { open, onOpenChange, title, description, variant = "default", confirmText, reason } = props;
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const opener = useRef<Element | null>(null);
  const id = useId();
  const [typed, setTyped] = useState("");
  const [reasonText, setReasonText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // Open/close the native dialog with the prop; reset fields on open, return focus on close.
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      opener.current = document.activeElement;
      dialog.showModal();
      const first = dialog.querySelector<HTMLElement>("input, textarea");
      (
        first ?? (variant === "danger" ? cancelRef.current : dialog.querySelector<HTMLElement>("[data-confirm]"))
      )?.focus();
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open, variant]);

  function reset() {
    setTyped("");
    setReasonText("");
    setError(null);
    setBusy(false);
  }

  function close() {
    if (busy) return;
    reset();
    onOpenChange(false);
    if (opener.current instanceof HTMLElement) opener.current.focus();
  }

  const typedOk = confirmText === undefined || typed.trim() === confirmText;
  const reasonOk = !reason?.required || reasonText.trim().length > 0;

  async function confirm() {
    if (!typedOk || !reasonOk || busy) return;
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm(reasonText.trim());
      setBusy(false);
      reset();
      onOpenChange(false);
      if (opener.current instanceof HTMLElement) opener.current.focus();
    } catch (e) {
      setBusy(false);
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <dialog
      ref={ref}
      aria-labelledby={`${id}-title`}
      aria-describedby={description ? `${id}-desc` : undefined}
      onCancel={(e) => {
        e.preventDefault(); // we close through state so the parent stays in charge
        close();
      }}
      onClick={(e) => {
        if (e.target === ref.current) close(); // backdrop click
      }}
      className="m-auto w-[calc(100%-2rem)] max-w-md rounded-lg bg-white p-0 text-slate-900 shadow-xl backdrop:bg-slate-900/50"
    >
      {open && (
        <form
          method="dialog"
          className="space-y-4 p-5"
          onSubmit={(e) => {
            e.preventDefault();
            void confirm();
          }}
        >
          <h2 id={`${id}-title`} className="text-lg font-semibold">
            {title}
          </h2>
          {description && (
            <div id={`${id}-desc`} className="text-sm text-slate-600">
              {description}
            </div>
          )}
          {confirmText !== undefined && (
            <div>
              <label htmlFor={`${id}-typed`} className="block text-sm font-medium text-slate-700">
                Type <code className="rounded bg-slate-100 px-1 font-mono">{confirmText}</code> to confirm
              </label>
              <input
                id={`${id}-typed`}
                value={typed}
                onChange={(e) => setTyped(e.target.value)}
                autoComplete="off"
                className="mt-1 w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm"
              />
            </div>
          )}
          {reason && (
            <div>
              <label htmlFor={`${id}-reason`} className="block text-sm font-medium text-slate-700">
                {reason.label ?? "Reason"}
                {reason.required ? "" : " (optional)"}
              </label>
              <textarea
                id={`${id}-reason`}
                value={reasonText}
                onChange={(e) => setReasonText(e.target.value)}
                required={reason.required}
                maxLength={reason.maxLength ?? 500}
                placeholder={reason.placeholder}
                rows={3}
                className="mt-1 w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm"
              />
            </div>
          )}
          {error && (
            <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
              {error}
            </p>
          )}
          <div className="flex justify-end gap-2">
            <button
              ref={cancelRef}
              type="button"
              onClick={close}
              disabled={busy}
              className={`${btn} text-slate-700 ring-1 ring-slate-300 hover:bg-slate-100`}
            >
              {props.cancelLabel ?? "Cancel"}
            </button>
            <button
              type="submit"
              data-confirm
              disabled={!typedOk || !reasonOk || busy}
              className={`${btn} text-white ${variant === "danger" ? "bg-red-600 hover:bg-red-500" : "bg-indigo-600 hover:bg-indigo-500"}`}
            >
              {busy ? "Working…" : (props.confirmLabel ?? "Confirm")}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
