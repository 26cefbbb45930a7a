/**
 * Formatting for console pages: dates, numbers and counted words, one way everywhere.
 *
 * Dates are always UTC and say so ("4 Dec 2026, 08:21 UTC"): the server renders the first
 * paint, so formatting in the browser's time zone would not hydrate.
 */
const dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
const hour = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
const numbers = new Intl.NumberFormat("en");

/** "4 Dec 2026, 08:21 UTC"; `fallback` (default "never") for a missing date. */
export function formatDateTime(d: Date | null | undefined, fallback = "never"): string {
  if (!d) return fallback;
  return `${dateTime.format(d)} UTC`;
}

/** "08:00 UTC". */
export function formatHour(d: Date): string {
  return `${hour.format(d)} UTC`;
}

/** "12s ago", "5 min ago", "3 h ago", "2 d ago", relative to `now` (pass the server's time to hydrate). */
export function timeAgo(from: Date, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - from.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** What a config save says it did: the revision it went live at, or that nothing changed (not an error). */
export function savedText(r: { summary: string; revision: number | null; changed: boolean }): string {
  return r.changed ? `${r.summary}. Live from config revision ${r.revision}.` : `Nothing changed: ${r.summary}.`;
}

/** "25,779". */
export function formatNumber(n: number): string {
  return numbers.format(n);
}

/** "1 call", "2 calls", "1,204 entries" (pass `many` when adding "s" is wrong). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${numbers.format(n)} ${n === 1 ? one : many}`;
}
