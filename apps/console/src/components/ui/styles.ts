/** Class names shared by the console's pages: buttons (main, neutral, destructive) and compact selects. */
export const btnPrimary =
  "rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-indigo-500 disabled:cursor-not-allowed disabled:opacity-50";
export const btnSecondary =
  "rounded-md px-3 py-1.5 text-sm font-semibold text-slate-700 ring-1 ring-slate-300 hover:bg-slate-100 disabled:cursor-not-allowed disabled:opacity-50";
export const btnDanger =
  "rounded-md px-3 py-1.5 text-sm font-semibold text-red-700 ring-1 ring-red-300 hover:bg-red-50 disabled:cursor-not-allowed disabled:opacity-50";
/** A select or text input in a filter bar or a table row. */
export const control = "rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-sm";
