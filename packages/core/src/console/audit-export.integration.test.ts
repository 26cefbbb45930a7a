import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type { Actor } from "../actor.ts";
import { auditExportStream, EXPORT_COLUMNS, startAuditExport } from "./audit-export.ts";
import { listAuditLog } from "./audit-log.ts";

let tdb: TestDatabase;
let db: Db;
let adaId: string;
const ROWS = 20_000;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 4 });
  const ada = await db.user.create({ data: { email: "ada@example.test", role: "ADMIN" } });
  adaId = ada.id;
  await db.conversation.create({ data: { conversationId: "cid-x", title: "War room", type: "GROUP" } });
  // Many rows straight in (the chain is not what this test checks); hostile text in some cells.
  const base = Date.parse("2026-11-01T00:00:00Z");
  for (let start = 0; start < ROWS; start += 5_000) {
    await db.auditLog.createMany({
      data: Array.from({ length: 5_000 }, (_, k) => {
        const i = start + k;
        return {
          at: new Date(base + i * 1000),
          actorType: i % 2 ? ("USER" as const) : ("CLI" as const),
          actorId: i % 2 ? adaId : null,
          actorName: i % 2 ? "ada@example.test" : `=cmd|' /C calc'!A0, "op" ${i}`,
          action: i % 10 === 0 ? "conversation.update" : "skill.update",
          targetType: i % 10 === 0 ? "conversation" : "skill",
          targetId: i % 10 === 0 ? "cid-x" : "kb.search",
          diff: { note: { from: 'line1\nline2, "q"', to: "@x" } },
          traceId: `t-${i}`,
          hash: `h-${i}`,
        };
      }),
    });
  }
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const actor: Actor = { type: "USER", id: "u-exp", name: "exporter@example.test" };

async function readAll(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let chunks = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { text, chunks };
    chunks++;
    text += decoder.decode(value, { stream: true });
  }
}

/** A minimal RFC 4180 reader, to check the CSV parses back to the same cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += c;
  }
  return rows;
}

describe("audit export", () => {
  it("names beside ids in the page: the actor's email and the conversation's title", async () => {
    const page = await listAuditLog(db, { limit: 10 });
    const conv = page.items.find((i) => i.targetType === "conversation")!;
    expect(conv.targetName).toBe("War room");
    expect(page.items.find((i) => i.actorType === "USER")!.actorEmail).toBe("ada@example.test");
  });

  it("streams a page at a time: reading the first rows fetches only the first pages", async () => {
    const pages: number[] = [];
    const stream = auditExportStream(db, {}, "csv", { pageSize: 500, onPage: (n) => pages.push(n) });
    const reader = stream.getReader();
    await reader.read(); // header
    await reader.read(); // first page
    await new Promise((r) => setTimeout(r, 50));
    // The stream reads ahead by one chunk at most: 20,000 rows are 40 pages.
    expect(pages.length).toBeLessThanOrEqual(2);
    await reader.cancel();
  });

  it("exports every row of a filtered view as CSV that parses back, formulas defused, never more than a page ahead", async () => {
    const pages: number[] = [];
    const stream = auditExportStream(db, {}, "csv", { pageSize: 1_000, onPage: (n) => pages.push(n) });
    // Bounded memory: at any read, the stream has fetched at most one page more than was read
    // (the one queued chunk), whatever the number of rows.
    let chunksRead = 0;
    let maxAhead = 0;
    // Read without keeping the text: only the row count and a few rows.
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    let tail = "";
    let lines = 0;
    let sample = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunksRead++;
      maxAhead = Math.max(maxAhead, pages.length - (chunksRead - 1));
      const text = tail + decoder.decode(value, { stream: true });
      if (!sample && lines > 0) sample = text.slice(0, 5_000);
      lines += text.split("\r\n").length - 1;
      tail = text.slice(text.lastIndexOf("\r\n") + 2);
    }
    // Quoted line breaks inside cells (the diff) add lines: count rows by pages instead.
    expect(pages.reduce((a, b) => a + b, 0)).toBe(ROWS);
    expect(pages.length).toBe(ROWS / 1_000);
    expect(maxAhead).toBeLessThanOrEqual(2);
    const rows = parseCsv(sample);
    const cli = rows.find((r) => r[3] === "")!;
    expect(cli[5]).toMatch(/^'=cmd\|' \/C calc'!A0, "op" \d+$/);
    const diff = JSON.parse(rows[0]![10]!) as unknown;
    expect(diff).toEqual({ note: { from: 'line1\nline2, "q"', to: "@x" } });
  });

  it("exports the page's filters as JSON, names included, and audits the export", async () => {
    const { stream, fileName, contentType } = await startAuditExport(db, actor, {
      format: "json",
      targetType: "conversation",
      from: "2026-11-01T00:00:00Z",
    });
    expect(fileName).toMatch(/^clawgate-audit-.*\.json$/);
    expect(contentType).toContain("application/json");
    const { text, chunks } = await readAll(stream);
    const rows = JSON.parse(text) as Record<string, unknown>[];
    expect(rows).toHaveLength(ROWS / 10);
    expect(chunks).toBeGreaterThan(1);
    expect(Object.keys(rows[0]!)).toEqual(expect.arrayContaining([...EXPORT_COLUMNS]));
    expect(rows.every((r) => r.targetName === "War room")).toBe(true);
    expect(rows.every((r) => r.actorType === "CLI" && r.actorEmail === null)).toBe(true);
    const entry = await db.auditLog.findFirstOrThrow({ where: { action: "audit.export" } });
    expect(entry).toMatchObject({ actorId: "u-exp", targetType: "audit_log" });
    expect(entry.diff).toEqual({
      format: "json",
      filters: { targetType: "conversation", from: "2026-11-01T00:00:00.000Z" },
    });
  });

  it("an empty view is a valid empty JSON array and a CSV with its header only", async () => {
    const json = await readAll(auditExportStream(db, { traceId: "nope" }, "json"));
    expect(JSON.parse(json.text)).toEqual([]);
    const csv = await readAll(auditExportStream(db, { traceId: "nope" }, "csv"));
    expect(csv.text).toBe(`${EXPORT_COLUMNS.join(",")}\r\n`);
  });

  it("finds by trace id", async () => {
    const page = await listAuditLog(db, { traceId: "t-1234" });
    expect(page.items.map((i) => i.traceId)).toEqual(["t-1234"]);
  });

  it("refuses bad filters before anything is written", async () => {
    const before = await db.auditLog.count({ where: { action: "audit.export" } });
    await expect(startAuditExport(db, actor, { format: "xml" as never })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(
      startAuditExport(db, actor, { from: "2026-12-01T00:00:00Z", to: "2026-11-01T00:00:00Z" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(await db.auditLog.count({ where: { action: "audit.export" } })).toBe(before);
  });
});
