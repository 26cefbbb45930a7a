/**
 * Seeds the demo data (skills, users with roles, ...) into the run's database, pointing the
 * local_chat model at the e2e demo model and the kb.* / ticket.* skills at the e2e internal API
 * (e2e/stack.ts). Idempotent. Runs after the web servers are up: the runtime reloads its policy
 * on the seed's config revision.
 */
import { seedDemo } from "@clawgate/core";
import { createDb, parseKeyRing } from "@clawgate/db";
import { E2E } from "./stack.ts";

export default async function globalSetup(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set");
  const db = createDb(url, { max: 2, dataKeys: parseKeyRing(E2E.dataKeys) });
  try {
    await seedDemo(db, { modelBaseUrl: E2E.demoModelUrl, internalApiBaseUrl: E2E.internalApiUrl });
  } finally {
    await db.$disconnect();
  }
}
