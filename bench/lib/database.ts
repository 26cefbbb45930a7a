/** A fresh migrated database per benchmark run: on the server in DATABASE_URL, else on an embedded PostgreSQL. */
import path from "node:path";
import { startEmbeddedPostgres } from "@clawgate/devstack/embedded-pg";
import { REPO_ROOT } from "@clawgate/devstack/paths";
import { createTestDatabase } from "@clawgate/devstack/testdb";

export interface BenchDatabase {
  url: string;
  /** Drops the run's database (errors ignored) and stops the embedded server, if one was started. */
  close(): Promise<void>;
}

export async function benchDatabase(
  prefix: string,
  embeddedAt: { dataDir: string; port: number } = { dataDir: ".data/bench-pg", port: 54331 },
): Promise<BenchDatabase> {
  const embedded = process.env.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dataDir: path.join(REPO_ROOT, embeddedAt.dataDir), port: embeddedAt.port });
  const tdb = await createTestDatabase({ serverUrl: process.env.DATABASE_URL ?? embedded!.serverUrl, prefix });
  return {
    url: tdb.url,
    close: async () => {
      await tdb.drop().catch(() => {});
      await embedded?.stop();
    },
  };
}
