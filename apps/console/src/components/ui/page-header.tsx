/** A console page's title and the short paragraph under it that says what the page is for. */
import type { ReactNode } from "react";

export function PageHeader({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div>
      <h1 className="text-2xl font-semibold tracking-tight">{title}</h1>
      <p className="mt-1 text-sm text-slate-600">{children}</p>
    </div>
  );
}
