// Prisma CLI config: the wasm schema engine ("js" engine) through our patched pg adapter,
// so no Rust engine binary is ever downloaded. Run with `--config packages/db/prisma.config.ts`.
import path from "node:path";
import { defineConfig } from "prisma/config";
import { migrationAdapterFactory } from "./src/migration-adapter.ts";

const root = path.resolve(import.meta.dirname, "../..");

// Commands that touch a database use this URL through the adapter below. The schema's
// `env("DATABASE_URL")` is read even by `generate`, which needs no database: give it a
// placeholder so `npm install` works on a machine with nothing configured.
const databaseUrl = process.env.DATABASE_URL;
process.env.DATABASE_URL ??= "postgresql://not-configured.invalid/clawgate";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: path.join(root, "prisma/schema.prisma"),
  migrations: { path: path.join(root, "prisma/migrations"), seed: "tsx prisma/seed.ts" },
  async adapter() {
    const url = databaseUrl;
    if (!url)
      throw new Error("DATABASE_URL is not set: point it at a PostgreSQL database (postgresql://user@host:port/db)");
    return migrationAdapterFactory(url);
  },
});
