"use client";
/**
 * Pagination controls, for offset pages (`page`/`pageCount`) or cursors (`hasPrevious`/`hasNext`).
 * Renders a labelled <nav> with Previous / Next buttons and a status text; the parent owns the
 * state and fetches.
 *
 *   <Pagination label="Conversations" page={page} pageCount={Math.ceil(total / size)} onPage={setPage} />
 *   <Pagination label="Audit log" hasPrevious={stack.length > 0} hasNext={!!data.nextCursor}
 *     onPrevious={back} onNext={() => forward(data.nextCursor)} />
 */
export type PaginationProps = { label: string; summary?: string } & (
  | { page: number; pageCount: number; onPage: (page: number) => void }
  | { hasPrevious: boolean; hasNext: boolean; onPrevious: () => void; onNext: () => void }
);

const btn =
  "rounded-md px-3 py-1.5 text-sm font-semibold ring-1 ring-slate-300 hover:bg-slate-100 disabled:cursor-not-allowed disabled:opacity-40 disabled:hover:bg-transparent";

export function Pagination(props: PaginationProps) {
  const offset = "page" in props;
  const hasPrevious = offset ? props.page > 1 : props.hasPrevious;
  const hasNext = offset ? props.page < props.pageCount : props.hasNext;
  const status = props.summary ?? (offset ? `Page ${props.page} of ${Math.max(1, props.pageCount)}` : undefined);
  return (
    <nav
      aria-label={`${props.label} pages`}
      className="flex items-center justify-between gap-3 px-1 py-2 text-sm text-slate-600"
    >
      <span aria-live="polite">{status}</span>
      <div className="flex gap-2">
        <button
          type="button"
          className={btn}
          disabled={!hasPrevious}
          onClick={() => (offset ? props.onPage(props.page - 1) : props.onPrevious())}
        >
          Previous
        </button>
        <button
          type="button"
          className={btn}
          disabled={!hasNext}
          onClick={() => (offset ? props.onPage(props.page + 1) : props.onNext())}
        >
          Next
        </button>
      </div>
    </nav>
  );
}
