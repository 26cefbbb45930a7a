/**
 * Export of a filtered audit view (the Audit log page's filters) as CSV or JSON, for an auditor.
 * Streamed: a ReadableStream that reads the next page of rows (keyset cursor on the id, newest
 * first) only when the reader wants more, so a million rows never sit in memory (one page, plus
 * the one queued chunk). The export is itself audited (`audit.export`, with its filters) before
 * the first byte goes out.
 *
 * CSV cells are quoted when they hold a comma, quote or line break, and a cell starting with
 * = + - @ (or a tab or carriage return) gets a leading apostrophe so a spreadsheet shows it as
 * text instead of running it as a formula (CSV injection).
 */
import type { Db } from "@clawgate/db";
import { z } from "zod";
import type { Actor } from "../actor.ts";
import { appendAudit } from "../audit.ts";
import { parseInput } from "../errors.ts";
import {
  auditFilterFields,
  auditNames,
  auditWhere,
  datesInOrder,
  DATES_ERROR,
  type AuditFilters,
} from "./audit-log.ts";

export const EXPORT_FORMATS = ["csv", "json"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const EXPORT_PAGE_SIZE = 1_000;

/** The page's filters plus the format (cursor and limit do not apply: the export takes every row). */
export const auditExportSchema = z
  .strictObject({
    ...auditFilterFields,
    format: z.enum(EXPORT_FORMATS, { error: "format must be csv or json" }).default("csv"),
  })
  .refine(datesInOrder, DATES_ERROR);
export type AuditExportInput = z.input<typeof auditExportSchema>;

/** The columns, in order (every hashed field, so an auditor can recompute the chain). */
export const EXPORT_COLUMNS = [
  "id",
  "at",
  "actorType",
  "actorId",
  "actorEmail",
  "actorName",
  "action",
  "targetType",
  "targetId",
  "targetName",
  "diff",
  "traceId",
  "configRevision",
  "prevHash",
  "hash",
] as const;
export type ExportRow = Record<(typeof EXPORT_COLUMNS)[number], unknown>;

const NEEDS_QUOTES = /[",\r\n]/;
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell (RFC 4180 quoting, and formula-injection guard). */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  let s =
    typeof value === "string"
      ? value
      : value instanceof Date
        ? value.toISOString()
        : typeof value === "object"
          ? JSON.stringify(value)
          : String(value as number | boolean | bigint);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const csvLine = (cells: readonly unknown[]) => `${cells.map(csvCell).join(",")}\r\n`;

/** The rows of a filtered view, a page at a time (newest first, by id). */
export async function* auditExportPages(
  db: Db,
  filters: AuditFilters,
  pageSize = EXPORT_PAGE_SIZE,
): AsyncGenerator<ExportRow[]> {
  const where = auditWhere(filters);
  let cursor: bigint | undefined;
  for (;;) {
    const rows = await db.auditLog.findMany({
      where: cursor === undefined ? where : { AND: [where, { id: { lt: cursor } }] },
      orderBy: { id: "desc" },
      take: pageSize,
      omit: { actorIp: true, actorUserAgent: true },
    });
    if (rows.length === 0) return;
    const names = await auditNames(db, rows);
    yield rows.map((r) => ({
      ...names(r),
      id: r.id.toString(),
      at: r.at.toISOString(),
      actorType: r.actorType,
      actorId: r.actorId,
      actorName: r.actorName,
      action: r.action,
      targetType: r.targetType,
      targetId: r.targetId,
      diff: r.diff,
      traceId: r.traceId,
      configRevision: r.configRevision,
      prevHash: r.prevHash,
      hash: r.hash,
    }));
    if (rows.length < pageSize) return;
    cursor = rows.at(-1)!.id;
  }
}

/** The export as a byte stream: each pull reads and encodes one page. */
export function auditExportStream(
  db: Db,
  filters: AuditFilters,
  format: ExportFormat,
  opts: { pageSize?: number; onPage?: (rows: number) => void } = {},
): ReadableStream<Uint8Array> {
  const pages = auditExportPages(db, filters, opts.pageSize);
  const encoder = new TextEncoder();
  let started = false;
  let first = true;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!started) {
          started = true;
          controller.enqueue(encoder.encode(format === "csv" ? csvLine(EXPORT_COLUMNS) : "["));
          return;
        }
        const next = await pages.next();
        if (next.done) {
          if (format === "json") controller.enqueue(encoder.encode(first ? "]\n" : "\n]\n"));
          controller.close();
          return;
        }
        opts.onPage?.(next.value.length);
        let chunk = "";
        for (const row of next.value) {
          if (format === "csv") chunk += csvLine(EXPORT_COLUMNS.map((c) => row[c]));
          else {
            chunk += `${first ? "\n" : ",\n"}${JSON.stringify(row)}`;
            first = false;
          }
        }
        controller.enqueue(encoder.encode(chunk));
      },
      async cancel() {
        await pages.return(undefined);
      },
    },
    // One chunk (one page) queued ahead of the reader at most.
    { highWaterMark: 1 },
  );
}

/** The filters as the audit entry records them (dates as ISO text). */
function filtersForAudit(f: AuditFilters): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) {
    if (v === undefined || v === null || k === "format") continue;
    out[k] = v instanceof Date ? v.toISOString() : String(v as string);
  }
  return out;
}

/**
 * Starts an export for a signed-in user (the caller checked their role): validates the filters,
 * writes the `audit.export` entry, and returns the stream with its file name and content type.
 */
export async function startAuditExport(
  db: Db,
  actor: Actor,
  input: AuditExportInput,
  opts: { traceId?: string | null; pageSize?: number; now?: Date } = {},
) {
  const { format, ...filters } = parseInput(auditExportSchema, input);
  await db.$transaction((tx) =>
    appendAudit(tx, {
      actor,
      action: "audit.export",
      targetType: "audit_log",
      diff: { format, filters: filtersForAudit(filters) },
      traceId: opts.traceId ?? null,
    }),
  );
  const stamp = (opts.now ?? new Date()).toISOString().slice(0, 19).replaceAll(":", "-");
  return {
    stream: auditExportStream(db, filters, format, { ...(opts.pageSize ? { pageSize: opts.pageSize } : {}) }),
    fileName: `clawgate-audit-${stamp}.${format}`,
    contentType: format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
  };
}
