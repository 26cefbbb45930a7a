import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MIGRATIONS_DIR, PRISMA_CONFIG } from "./migrations.ts";

const prismaCli = createRequire(import.meta.url).resolve("prisma/build/index.js");
const SCHEMA = path.resolve(MIGRATIONS_DIR, "../schema.prisma");

/** `prisma migrate diff --from-migrations … --exit-code`: 0 = in sync, 2 = drift. Needs a shadow DB. */
function migrateDiff(schemaPath: string) {
  const res = spawnSync(
    process.execPath,
    [
      prismaCli,
      "migrate",
      "diff",
      "--from-migrations",
      MIGRATIONS_DIR,
      "--to-schema-datamodel",
      schemaPath,
      "--exit-code",
      "--config",
      PRISMA_CONFIG,
    ],
    { encoding: "utf8", env: { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1" } },
  );
  return { code: res.status, output: `${res.stdout}${res.stderr}` };
}

describe("schema and committed migrations", () => {
  it("are in sync (run `npm run db:migrate:dev -- --name <change>` after editing the schema)", () => {
    const { code, output } = migrateDiff(SCHEMA);
    expect(output).toContain("No difference detected");
    expect(code).toBe(0);
  });

  it("the check detects a schema change that has no migration", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "clawgate-drift-"));
    const drifted = path.join(dir, "schema.prisma");
    writeFileSync(
      drifted,
      readFileSync(SCHEMA, "utf8").replace("model FeatureFlag {", "model FeatureFlag {\n  owner String?"),
    );
    const { code, output } = migrateDiff(drifted);
    expect(code).toBe(2);
    expect(output).toContain("owner");
  });
});
