"use client";
/** An on/off switch: a button with role="switch" (Space/Enter toggle it), labelled for screen readers. */
export function Switch(props: {
  checked: boolean;
  label: string;
  onChange: (next: boolean) => void;
  disabled?: boolean;
  tone?: "good" | "warn";
}) {
  const on = props.tone === "warn" ? "bg-amber-500" : "bg-emerald-600";
  return (
    <button
      type="button"
      role="switch"
      data-mutates
      aria-checked={props.checked}
      aria-label={props.label}
      disabled={props.disabled}
      onClick={() => props.onChange(!props.checked)}
      className={`relative inline-flex h-6 w-11 shrink-0 items-center rounded-full transition-colors focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:cursor-not-allowed disabled:opacity-50 ${
        props.checked ? on : "bg-slate-300"
      }`}
    >
      <span
        aria-hidden
        className={`inline-block size-5 rounded-full bg-white shadow transition-transform ${props.checked ? "translate-x-5" : "translate-x-0.5"}`}
      />
    </button>
  );
}
