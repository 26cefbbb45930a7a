/**
 * Data migrations, run again on a migrated database holding the rows they are for (the SQL is
 * written to be idempotent): what an existing install's rows look like afterwards.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { createDb, type Db } from "@clawgate/db";
import { MIGRATIONS_DIR } from "@clawgate/db/migrations";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";

let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_core_migrations" });
  db = createDb(tdb.url, { max: 2 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const run = (name: string) =>
  db.$executeRawUnsafe(readFileSync(path.join(MIGRATIONS_DIR, name, "migration.sql"), "utf8"));

describe("http_fetch_allow_private_networks", () => {
  it("renames http.fetch's allowPrivate to allowPrivateNetworks, keeps the rest, and fixes the description", async () => {
    const common = { riskClass: "READ" as const, timeoutMs: 8_000 };
    await db.skill.createMany({
      data: [
        {
          key: "http.fetch",
          description: "Fetch a page from an allowlisted internal host (never metadata or loopback ranges).",
          settings: { allowedHosts: ["wiki.corp.example"], allowPrivate: true, requiresFlag: "web" },
          ...common,
        },
        { key: "kb.search", description: "kb", settings: { baseUrl: "http://kb", allowPrivate: true }, ...common },
      ],
    });
    await run("20261204060000_http_fetch_allow_private_networks");
    const fetchRow = await db.skill.findUniqueOrThrow({ where: { key: "http.fetch" } });
    expect(fetchRow.settings).toEqual({
      allowedHosts: ["wiki.corp.example"],
      allowPrivateNetworks: true,
      requiresFlag: "web",
    });
    // What the manifest said when the migration was written (a later manifest may word it otherwise).
    expect(fetchRow.description).toMatch(/^Fetch a web page \(HTTP GET\).*loopback, link-local, cloud metadata/);
    expect(fetchRow.description).not.toContain("never metadata or loopback ranges");
    // Only http.fetch's settings are its to rename.
    expect((await db.skill.findUniqueOrThrow({ where: { key: "kb.search" } })).settings).toEqual({
      baseUrl: "http://kb",
      allowPrivate: true,
    });

    // A second run (or a row already on the new key) changes nothing.
    await run("20261204060000_http_fetch_allow_private_networks");
    expect((await db.skill.findUniqueOrThrow({ where: { key: "http.fetch" } })).settings).toEqual(fetchRow.settings);
  });
});
