/**
 * Date formatting for console pages. Always UTC (and says so): the server renders the first
 * paint, so formatting in the browser's time zone would not hydrate.
 */
export function formatDateTime(d: Date | null | undefined, fallback = "never"): string {
  if (!d) return fallback;
  return `${d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" })} UTC`;
}

export function formatHour(d: Date): string {
  return `${d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" })} UTC`;
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
