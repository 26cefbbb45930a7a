/**
 * `prisma db seed` / `tsx prisma/seed.ts`: loads the demo data into DATABASE_URL.
 * The same code runs from `npx clawgate seed --demo` and from `npm start`.
 */
import { seedDemo } from "@clawgate/core";
import { createDb } from "@clawgate/db";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("DATABASE_URL is not set");
  process.exit(1);
}
const db = createDb(url, { max: 2 });
try {
  const result = await seedDemo(db, { modelBaseUrl: process.env.LOCAL_MODEL_BASE_URL });
  const created = Object.entries(result.created).map(([k, n]) => `${n} ${k}`);
  console.log(created.length ? `seeded: ${created.join(", ")}` : "demo data already present");
} finally {
  await db.$disconnect();
}
