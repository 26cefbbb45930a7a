"use client";
/**
 * A page that failed to render shows this inside the console's frame (the navigation still
 * works), with the error's digest to quote to an operator (the server log has the details).
 */
import { ErrorState } from "~/components/ui/error-state.tsx";

export default function ConsoleError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold tracking-tight">Something went wrong</h1>
      <ErrorState
        title="This page could not be shown."
        error={{
          message: error.digest
            ? `Error reference ${error.digest} (the console's log has the details).`
            : "The console's log has the details.",
        }}
        onRetry={reset}
      />
    </div>
  );
}
