/** Seeds the demo data (skills, users with roles, ...) into the run's database. Idempotent. */
import { seedDemo } from "@clawgate/core";
import { createDb } from "@clawgate/db";

export default async function globalSetup(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set");
  const db = createDb(url, { max: 2 });
  try {
    await seedDemo(db);
  } finally {
    await db.$disconnect();
  }
}
