/**
 * A test file that needs PostgreSQL is named `*.integration.test.ts`, so the name tells which
 * tests run without a database: `npx vitest run --exclude '**\/*.integration.test.ts'` in a
 * workspace runs only the others. The preset's include (`*.test.ts`) matches both, so nothing is
 * left out of `npm test` either way; this check keeps the names honest.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../../..");

/** What a test file uses when it talks to PostgreSQL: a fresh test database, directly or through a harness. */
const USES_DATABASE =
  /@clawgate\/devstack\/(?:testdb|embedded-pg)|\bcreateTestDatabase\b|\bstartEmbeddedPostgres\b|\/test-caller(?:\.ts)?["']|\/test\/harness(?:\.ts)?["']/;

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (["node_modules", "generated", "fixtures"].includes(entry.name) || entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...testFiles(full));
    else if (/\.test\.tsx?$/.test(entry.name)) out.push(full);
  }
  return out;
}

describe("test file names", () => {
  it("every test file that creates a database is named *.integration.test.ts", () => {
    // This file names the patterns without using them.
    const files = ["apps", "packages"]
      .flatMap((d) => testFiles(path.join(ROOT, d)))
      .filter((f) => f !== import.meta.filename);
    expect(files.length).toBeGreaterThan(50);
    const misnamed = files
      .filter((f) => !/\.integration\.test\.tsx?$/.test(f) && USES_DATABASE.test(readFileSync(f, "utf8")))
      .map((f) => path.relative(ROOT, f));
    expect(misnamed).toEqual([]);
  });
});
