/**
 * Proof that no write path bypasses the storage boundary (pg.ts, storable.ts): every pool,
 * client and Prisma client of the apps and packages is made through it. A new `new pg.Pool(`,
 * `new Client(`, `new PrismaClient(`… elsewhere, or a graphile-worker given a connection
 * string (it would open its own pool), fails here. The runtime side of the proof (every path
 * driven with NUL and lone surrogates against PostgreSQL) is in apps/bot's unicode tests.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../../..");

/** Files that may open a connection their own way, and why. */
const ALLOWED: Record<string, string> = {
  "packages/db/src/pg.ts": "the storable pool and client themselves",
  "packages/db/src/index.ts": "Prisma on the storable pool, its arguments made storable",
  "packages/db/src/migration-adapter.ts": "migrations: runs only the committed migration SQL",
  "packages/db/src/migrations.ts": "reads the migrations table",
  "packages/devstack/src/testdb.ts": "test infrastructure: CREATE/DROP DATABASE",
  "packages/devstack/src/pg-admin.ts": "dev infrastructure: CREATE DATABASE",
  "packages/skills/src/mcp.ts": "the MCP SDK's Client: a connection to an MCP server, not to the database",
};

const CONNECTS = /new\s+(?:pg\.)?(?:Pool|Client|PrismaPg|PrismaClient)\s*\(|\bconnectionString\s*:/g;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    // Tests and their helpers (test/) set up databases; they are not write paths of the product.
    if (["node_modules", "generated", "test"].includes(entry.name) || entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(full));
    else if (/\.(ts|tsx|mts|mjs)$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name)) out.push(full);
  }
  return out;
}

describe("the storage boundary", () => {
  it("every pool, client and Prisma client is made through packages/db's storable pool", () => {
    const files = [...sources(path.join(ROOT, "apps")), ...sources(path.join(ROOT, "packages"))];
    expect(files.length).toBeGreaterThan(100);
    const offenders: string[] = [];
    const pooled: string[] = [];
    for (const file of files) {
      const rel = path.relative(ROOT, file);
      const text = readFileSync(file, "utf8");
      const hits = [...text.matchAll(CONNECTS)].map((m) => m[0]);
      if (hits.length === 0) continue;
      if (ALLOWED[rel]) continue;
      // createStorablePool({ connectionString }) / new StorableClient({ … }) are the allowed forms.
      const direct = hits.filter((h) => !h.startsWith("connectionString"));
      const strings = text.match(/\bconnectionString\s*:/g)?.length ?? 0;
      const storable = text.match(/(?:createStorablePool|new StorableClient)\(\{/g)?.length ?? 0;
      if (direct.length > 0 || strings > storable) offenders.push(`${rel}: ${hits.join(", ")}`);
      else pooled.push(rel);
    }
    expect(offenders).toEqual([]);
    // The runtime's pools (ingest, worker, graphile-worker) and the console's limiter pool.
    expect(pooled).toEqual(
      expect.arrayContaining(["apps/bot/src/db-pool.ts", "apps/console/src/server/rate-limit.ts"]),
    );
  });
});
