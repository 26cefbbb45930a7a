/**
 * EmptyState: a bordered panel for "nothing here" (and, with role="status", for loading).
 *
 *   <EmptyState title="No conversations yet" action={<button ...>Clear filters</button>}>
 *     Groups appear here the first time someone messages the robot.
 *   </EmptyState>
 */
import type { ReactNode } from "react";

export function EmptyState(props: { title: string; children?: ReactNode; action?: ReactNode; role?: "status" }) {
  return (
    <div
      role={props.role}
      className="rounded-lg border border-slate-200 bg-white px-6 py-10 text-center text-sm text-slate-600"
    >
      <p className="font-medium text-slate-900">{props.title}</p>
      {props.children && <div className="mt-1">{props.children}</div>}
      {props.action && <div className="mt-4">{props.action}</div>}
    </div>
  );
}

/** A loading panel (announced politely). */
export function LoadingState({ label }: { label: string }) {
  return <EmptyState role="status" title={label} />;
}
