"use client";
/**
 * The console's data table: a white card around a table, a caption (visible, or for screen
 * readers only), column headers, the rows, and an optional footer (pagination). Rows are the
 * page's own `<tr>`s; `th`/`td` are the cell classes they use.
 *
 * Below the `md` breakpoint (phones) each row is stacked as a card: the first cell (the row's
 * key) as its title, every other cell under its column's name (copied from the header into a
 * `data-label`, see globals.css), so status and action columns stay on screen instead of
 * scrolling off to the right. From `md` up it is a plain table; cells wrap rather than widen
 * it, and the box scrolls horizontally only as a last resort.
 *
 * The scroll box is positioned (`relative`) so that sr-only text inside it (absolutely
 * positioned) stays in the box instead of widening the page at phone width.
 */
import { useLayoutEffect, useRef, type ReactNode } from "react";

export const th = "px-3 py-3 text-left text-xs font-semibold tracking-wide text-slate-600 uppercase";
export const td = "px-3 py-3 align-top text-sm";

/** Copies each column's header text onto its body cells (`data-label`) for the stacked layout. */
function labelCells(table: HTMLTableElement) {
  const header = table.tHead?.rows[0];
  if (!header) return;
  const labels: string[] = [];
  for (const cell of Array.from(header.cells)) {
    // A header whose only content is screen-reader text (e.g. "Actions") labels nothing visible.
    const onlySrText = cell.children.length === 1 && cell.children[0]!.classList.contains("sr-only");
    const label = onlySrText ? "" : (cell.textContent ?? "").trim();
    for (let i = 0; i < cell.colSpan; i++) labels.push(label);
  }
  for (const body of Array.from(table.tBodies)) {
    for (const row of Array.from(body.rows)) {
      let column = 0;
      for (const cell of Array.from(row.cells)) {
        const label = cell.colSpan > 1 ? "" : (labels[column] ?? "");
        if (cell.dataset.label !== label) cell.dataset.label = label;
        column += cell.colSpan;
      }
    }
  }
}

export function DataTable(props: {
  caption: ReactNode;
  /** The caption is read by screen readers only. */
  captionHidden?: boolean;
  /** Column headers; `false` leaves a column out (e.g. Actions for a role that may not act). */
  columns: (ReactNode | false)[];
  children: ReactNode;
  footer?: ReactNode;
  /** Dims the table while newer data is on its way. */
  fetching?: boolean;
}) {
  const table = useRef<HTMLTableElement>(null);
  // After every render: rows come and go with the data.
  useLayoutEffect(() => {
    if (table.current) labelCells(table.current);
  });
  return (
    <div
      className={`data-table overflow-hidden rounded-lg border border-slate-200 bg-white shadow-sm ${props.fetching ? "opacity-80" : ""}`}
    >
      <div className="relative overflow-x-auto">
        <table ref={table} className="min-w-full divide-y divide-slate-200">
          <caption className={props.captionHidden ? "sr-only" : "px-4 py-3 text-left text-sm text-slate-600"}>
            {props.caption}
          </caption>
          <thead className="bg-slate-50">
            <tr>
              {props.columns.map(
                (c, i) =>
                  c !== false && (
                    <th key={i} scope="col" className={th}>
                      {c}
                    </th>
                  ),
              )}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">{props.children}</tbody>
        </table>
      </div>
      {props.footer && <div className="border-t border-slate-200 px-3">{props.footer}</div>}
    </div>
  );
}
