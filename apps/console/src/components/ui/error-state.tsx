"use client";
/**
 * ErrorState: an alert panel for a failed read, with a retry button.
 *
 *   if (error) return <ErrorState title="The audit log could not be loaded." error={error} onRetry={refetch} />;
 */
export function ErrorState(props: { title: string; error?: { message: string } | null; onRetry?: () => unknown }) {
  return (
    <div
      role="alert"
      className="rounded-lg border border-red-200 bg-white px-6 py-10 text-center text-sm text-slate-600"
    >
      <p className="font-medium text-red-800">{props.title}</p>
      {props.error?.message && <p className="mt-1">{props.error.message}</p>}
      {props.onRetry && (
        <button
          type="button"
          onClick={() => void props.onRetry?.()}
          className="mt-4 rounded-md px-3 py-1.5 font-semibold ring-1 ring-slate-300 hover:bg-slate-100"
        >
          Try again
        </button>
      )}
    </div>
  );
}
