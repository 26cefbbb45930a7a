/**
 * Doctor's check of the data key ring (CLAWGATE_DATA_KEYS) against what is stored: every key id a
 * stored value is encrypted under must be in the ring, or those values cannot be read.
 */
import { dataKeyStatus, missingDataKeys } from "@clawgate/core/data-keys.ts";
import type { KeyRing } from "@clawgate/db";
import { createPgPool } from "../db-pool.ts";
import type { DoctorResult } from "./doctor.ts";

const NAME = "data keys (CLAWGATE_DATA_KEYS) hold every stored key id";

export async function dataKeysCheck(
  databaseUrl: string,
  ring: KeyRing | null,
  production: boolean,
): Promise<DoctorResult> {
  // The stored ciphertext, on a plain pool: the Prisma client would decrypt it.
  const pool = createPgPool(databaseUrl, { applicationName: "clawgate-doctor", max: 1, statementTimeoutMs: 30_000 });
  try {
    const counts = await dataKeyStatus(pool);
    const byKey = new Map<string, number>();
    for (const c of counts) byKey.set(c.keyId ?? "(clear)", (byKey.get(c.keyId ?? "(clear)") ?? 0) + c.rows);
    const stored = [...byKey].map(([k, n]) => `${k}: ${n}`).join(", ") || "none";
    const details = [
      `ring: ${ring ? `${ring.ids.join(", ")} (newest ${ring.current})` : "not set"}`,
      `stored values per key: ${stored}`,
    ];
    const missing = missingDataKeys(ring, counts);
    if (missing.length > 0)
      return {
        name: NAME,
        ok: false,
        details: [...details, `no key in the ring for: ${missing.join(", ")} (those values cannot be read)`],
        fix: `add ${missing.map((k) => `${k}:<its base64 key>`).join(",")} to CLAWGATE_DATA_KEYS, before the newest key`,
      };
    if (!ring)
      return {
        name: NAME,
        ok: !production,
        warning: true,
        details: [...details, "chat content is stored in clear"],
        fix: "make a key (`clawgate keys new --id k1`), set CLAWGATE_DATA_KEYS on the runtime and the console, then `clawgate keys rotate`",
      };
    const behind = [...byKey].filter(([k]) => k !== ring.current).reduce((n, [, v]) => n + v, 0);
    return behind > 0
      ? {
          name: NAME,
          ok: true,
          warning: true,
          details: [...details, `${behind} value(s) not under the newest key ${ring.current}`],
          fix: "run `clawgate keys rotate` (online, resumable)",
        }
      : { name: NAME, ok: true, details };
  } catch (error) {
    return {
      name: NAME,
      ok: false,
      details: [
        `could not count stored values: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
      ],
      fix: "check the database connection",
    };
  } finally {
    await pool.end().catch(() => {});
  }
}
