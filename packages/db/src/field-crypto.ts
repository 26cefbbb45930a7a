/**
 * Field-level encryption at rest: AES-256-GCM (node:crypto) under a key ring. Pure, no Prisma
 * import; the ring is given by the callers (serve, the CLI, the console read CLAWGATE_DATA_KEYS).
 *
 * A value is stored as `enc:<v>:<keyId>:<iv>:<tag>:<ciphertext>` (base64url parts): `v1` for a
 * text column (the plaintext is the string), `j1` for a Json column (the plaintext is the JSON
 * text; the column holds that envelope as a JSON string). The key id travels with each value, so
 * every key of the ring decrypts and the newest (the last) encrypts.
 *
 * No ring (`null`): values are written in clear, values in clear are read as they are, and an
 * encrypted value cannot be read (a clear error naming its key id).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export interface KeyRing {
  /** The key that encrypts: the last of the ring. */
  readonly current: string;
  /** Every key id, in ring order. */
  readonly ids: readonly string[];
  has(id: string): boolean;
  key(id: string): Buffer | undefined;
}

/** A key ring that cannot be parsed, a key that is missing, or a value that does not decrypt. */
export class DataKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataKeyError";
  }
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const ENVELOPE = /^enc:(v1|j1):([A-Za-z0-9_-]{1,32}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]{22}):([A-Za-z0-9_-]*)$/;
const PREFIX = "enc:";

/** `CLAWGATE_DATA_KEYS`: comma-separated `id:base64key` pairs, 32-byte keys, the newest last. */
export function parseKeyRing(spec: string | undefined | null): KeyRing | null {
  if (spec === undefined || spec === null || spec.trim() === "") return null;
  const keys = new Map<string, Buffer>();
  for (const [i, raw] of spec.split(",").entries()) {
    const pair = raw.trim();
    const colon = pair.indexOf(":");
    const id = colon < 0 ? "" : pair.slice(0, colon);
    if (!KEY_ID.test(id))
      throw new DataKeyError(
        `CLAWGATE_DATA_KEYS: entry ${i + 1} is not "id:base64key" (the id is 1-32 of A-Z a-z 0-9 _ -)`,
      );
    const key = Buffer.from(pair.slice(colon + 1), "base64");
    if (key.length !== 32)
      throw new DataKeyError(`CLAWGATE_DATA_KEYS: key "${id}" is ${key.length} bytes; AES-256 needs 32 (base64)`);
    if (keys.has(id)) throw new DataKeyError(`CLAWGATE_DATA_KEYS: key id "${id}" appears twice`);
    keys.set(id, key);
  }
  const ids = [...keys.keys()];
  return { current: ids[ids.length - 1]!, ids, has: (id) => keys.has(id), key: (id) => keys.get(id) };
}

/** A new ring entry: `id:base64key` with 32 random bytes. */
export function newDataKey(id: string): string {
  if (!KEY_ID.test(id)) throw new DataKeyError(`key id "${id}": 1-32 of A-Z a-z 0-9 _ -`);
  return `${id}:${randomBytes(32).toString("base64")}`;
}

function seal(ring: KeyRing, kind: "v1" | "j1", plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", ring.key(ring.current)!, iv);
  const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `${PREFIX}${kind}:${ring.current}:${iv.toString("base64url")}:${cipher.getAuthTag().toString("base64url")}:${ct.toString("base64url")}`;
}

function open(ring: KeyRing | null, m: RegExpExecArray): string {
  const [, , id, iv, tag, ct] = m as unknown as [string, string, string, string, string, string];
  const key = ring?.key(id);
  if (!key)
    throw new DataKeyError(
      ring
        ? `a stored value is encrypted with data key "${id}", which CLAWGATE_DATA_KEYS does not hold (it holds ${ring.ids.join(", ")})`
        : `a stored value is encrypted with data key "${id}" and CLAWGATE_DATA_KEYS is not set`,
    );
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
  } catch {
    throw new DataKeyError(
      `a stored value under data key "${id}" does not decrypt: the key "${id}" in CLAWGATE_DATA_KEYS is not the one it was encrypted with, or the value was altered`,
    );
  }
}

/** The envelope's parts when `value` is one. */
function envelope(value: unknown): RegExpExecArray | null {
  return typeof value === "string" && value.startsWith(PREFIX) ? ENVELOPE.exec(value) : null;
}

/** The key id a stored value (text, or a Json column's value) is encrypted under; null in clear. */
export function keyIdOf(value: unknown): string | null {
  return envelope(value)?.[2] ?? null;
}

/** True when the stored value is an envelope. */
export function isSealed(value: unknown): boolean {
  return envelope(value) !== null;
}

/** A text column's value to store. */
export function sealText(ring: KeyRing | null, value: string): string {
  return ring ? seal(ring, "v1", value) : value;
}

/** A Json column's value to store (a JSON string holding the envelope); null and undefined stay. */
export function sealJson(ring: KeyRing | null, value: unknown): unknown {
  if (!ring || value === undefined || value === null) return value;
  return seal(ring, "j1", JSON.stringify(value));
}

/** A stored value as it was written: an envelope decrypted (text, or JSON parsed), anything else as is. */
export function openValue(ring: KeyRing | null, value: unknown): unknown {
  const m = envelope(value);
  if (!m) return value;
  const plaintext = open(ring, m);
  return m[1] === "j1" ? JSON.parse(plaintext) : plaintext;
}

/** A stored value re-encrypted under the ring's current key (clear values are encrypted). */
export function resealValue(ring: KeyRing, value: unknown, kind: "text" | "json"): unknown {
  const m = envelope(value);
  if (m) {
    const plaintext = open(ring, m);
    return seal(ring, m[1] as "v1" | "j1", plaintext);
  }
  return kind === "text" ? sealText(ring, value as string) : sealJson(ring, value);
}
