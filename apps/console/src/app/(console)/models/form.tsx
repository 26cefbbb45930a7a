"use client";
/**
 * Small form pieces shared by the Models and Budgets pages: labelled fields with their server
 * error, and the text of a tRPC error (zod field errors listed, not the raw JSON).
 */
import type { ReactNode } from "react";
import { btnPrimary, btnSecondary } from "~/components/ui/styles.ts";

type TrpcLikeError = {
  message: string;
  data?: { zodError?: { fieldErrors?: Record<string, string[] | undefined>; formErrors?: string[] } | null } | null;
};

/** Field errors of a failed mutation, by field name. */
export function fieldErrors(error: unknown): Record<string, string | undefined> {
  const fe = (error as TrpcLikeError | null)?.data?.zodError?.fieldErrors ?? {};
  return Object.fromEntries(Object.entries(fe).map(([k, v]) => [k, v?.[0]]));
}

/** One line for a failed mutation: the refusal's message, or the fields that were refused. */
export function errorText(error: unknown): string {
  const e = error as TrpcLikeError | null;
  const zod = e?.data?.zodError;
  if (zod) {
    const fields = Object.entries(zod.fieldErrors ?? {}).map(([k, v]) => `${k}: ${v?.[0] ?? "invalid"}`);
    const all = [...(zod.formErrors ?? []), ...fields];
    if (all.length > 0) return `Not saved. ${all.join("; ")}`;
  }
  return e?.message ?? "Something went wrong.";
}

/**
 * A confirm dialog's action: runs the mutation, and a refusal becomes an Error carrying
 * errorText's line, which the dialog shows inline (the raw message may be zod's JSON).
 */
export async function withErrorText(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    throw new Error(errorText(err));
  }
}

export const inputCls =
  "mt-1 block w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm disabled:bg-slate-100 disabled:text-slate-500 aria-[invalid=true]:border-red-500";

export function Field(props: {
  id: string;
  label: string;
  hint?: ReactNode;
  error?: string;
  children: ReactNode;
  className?: string;
}) {
  return (
    <div className={props.className}>
      <label htmlFor={props.id} className="block text-sm font-medium text-slate-700">
        {props.label}
      </label>
      {props.children}
      {props.hint && !props.error && (
        <p id={`${props.id}-hint`} className="mt-1 text-xs text-slate-500">
          {props.hint}
        </p>
      )}
      {props.error && (
        <p id={`${props.id}-error`} className="mt-1 text-xs text-red-700">
          {props.error}
        </p>
      )}
    </div>
  );
}

/**
 * A form's end: the refusal (if any) as an alert, the submit button (busy while saving) and,
 * with `onCancel`, a Cancel button.
 */
export function FormFooter(props: {
  error: ReactNode;
  saving: boolean;
  submitLabel: string;
  disabled?: boolean;
  onCancel?: () => void;
}) {
  return (
    <>
      {props.error && (
        <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
          {props.error}
        </p>
      )}
      <div className="flex gap-2">
        <button type="submit" data-mutates className={btnPrimary} disabled={props.saving || props.disabled}>
          {props.saving ? "Saving…" : props.submitLabel}
        </button>
        {props.onCancel && (
          <button type="button" className={btnSecondary} onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </div>
    </>
  );
}

/** aria props tying an input to its hint or error. */
export const describedBy = (id: string, error?: string, hint?: boolean) => ({
  "aria-invalid": error ? true : undefined,
  "aria-describedby": error ? `${id}-error` : hint ? `${id}-hint` : undefined,
});

/** "" -> null (unlimited / not set), else the number as typed (the server checks it). */
export function numberOrNull(text: string): number | null {
  const t = text.trim();
  return t === "" ? null : Number(t);
}
