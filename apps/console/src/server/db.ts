/**
 * The console's database client: one per process, with the data key ring (CLAWGATE_DATA_KEYS), so
 * message content reads as plaintext and writes sealed. Every route and procedure takes it from
 * here: `getDb` keeps the first client it makes, so a caller that left the ring out would make
 * every later reader see ciphertext.
 */
import { getDb, type Db } from "@clawgate/db";
import { env } from "~/env.ts";

export const consoleDb = (): Db => getDb(env.DATABASE_URL, { dataKeys: env.CLAWGATE_DATA_KEYS });
