/**
 * The console's data table: a white card around a horizontally scrolling table, a caption
 * (visible, or for screen readers only), column headers, the rows, and an optional footer
 * (pagination). Rows are the page's own `<tr>`s; `th`/`td` are the cell classes they use.
 *
 * The scroll box is positioned (`relative`) so that sr-only text inside it (absolutely
 * positioned) stays in the box instead of widening the page at phone width.
 */
import type { ReactNode } from "react";

export const th = "px-4 py-3 text-left text-xs font-semibold tracking-wide text-slate-600 uppercase";
export const td = "px-4 py-3 align-top text-sm";

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
  return (
    <div
      className={`overflow-hidden rounded-lg border border-slate-200 bg-white shadow-sm ${props.fetching ? "opacity-80" : ""}`}
    >
      <div className="relative overflow-x-auto">
        <table className="min-w-full divide-y divide-slate-200">
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
