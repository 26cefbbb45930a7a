/**
 * Which columns hold chat content and are encrypted at rest, and the Prisma query hook that makes
 * that transparent: every write through the client stores ciphertext, every read returns
 * plaintext. Raw SQL that writes these columns seals its values itself (`sealText` / `sealJson`
 * with the ring `dataKeysOf(db)` or the one its caller was given); raw SQL results through the
 * client are opened here too, whatever the column is called.
 */
import { type KeyRing, openValue, sealJson, sealText } from "./field-crypto.ts";
import { WRITES } from "./personal-data.ts";

export interface EncryptedColumn {
  model: string;
  /** The table's primary key columns (rotation walks them in order). */
  key: readonly string[];
  field: string;
  kind: "text" | "json";
}

/** Every encrypted column. Ids, statuses, times, counts and errors stay in clear (queried). */
export const ENCRYPTED_COLUMNS: readonly EncryptedColumn[] = [
  { model: "InboundMessage", key: ["id"], field: "payload", kind: "json" },
  { model: "OutboundMessage", key: ["id"], field: "payload", kind: "json" },
  { model: "ConversationMemory", key: ["conversationId"], field: "summary", kind: "text" },
  { model: "ConversationMemory", key: ["conversationId"], field: "recent", kind: "json" },
  { model: "ApprovalRequest", key: ["id"], field: "input", kind: "json" },
  { model: "ApprovalRequest", key: ["id"], field: "result", kind: "json" },
  { model: "TurnStep", key: ["inboundMessageId", "seq"], field: "data", kind: "json" },
  { model: "DeadLetter", key: ["id"], field: "payload", kind: "json" },
];

const BY_MODEL = new Map<string, Map<string, "text" | "json">>();
for (const c of ENCRYPTED_COLUMNS) {
  const fields = BY_MODEL.get(c.model) ?? new Map<string, "text" | "json">();
  fields.set(c.field, c.kind);
  BY_MODEL.set(c.model, fields);
}
/** Field names that are encrypted in some model: a nested (included) row's are opened by name. */
const ENCRYPTED_NAMES = new Set(ENCRYPTED_COLUMNS.map((c) => c.field));

const RAW_READS = new Set(["$queryRaw", "$queryRawUnsafe"]);

function sealField(ring: KeyRing, kind: "text" | "json", value: unknown): unknown {
  if (value === undefined || value === null) return value;
  if (kind === "text") {
    if (typeof value === "string") return sealText(ring, value);
    // `{ set: "…" }`, the one update operation a String takes besides the value itself.
    if (typeof value === "object" && "set" in value && typeof value.set === "string")
      return { ...value, set: sealText(ring, value.set) };
    return value;
  }
  // Prisma's JsonNull / DbNull sentinels are class instances: kept as they are.
  if (typeof value === "object" && !Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype)
    return value;
  return sealJson(ring, value);
}

function sealData(ring: KeyRing, fields: Map<string, "text" | "json">, data: unknown): unknown {
  if (Array.isArray(data)) return data.map((d) => sealData(ring, fields, d));
  if (!data || typeof data !== "object") return data;
  let out: Record<string, unknown> | undefined;
  for (const [field, kind] of fields) {
    const value = (data as Record<string, unknown>)[field];
    if (value === undefined) continue;
    out ??= { ...(data as Record<string, unknown>) };
    out[field] = sealField(ring, kind, value);
  }
  return out ?? data;
}

/** A write's arguments with the model's encrypted fields sealed. */
export function sealArgs<T>(ring: KeyRing | null, model: string | undefined, operation: string, args: T): T {
  const fields = ring && model ? BY_MODEL.get(model) : undefined;
  if (!ring || !fields || !WRITES.has(operation) || !args || typeof args !== "object") return args;
  const a = args as Record<string, unknown>;
  if (operation === "upsert")
    return { ...a, create: sealData(ring, fields, a.create), update: sealData(ring, fields, a.update) } as T;
  return { ...a, data: sealData(ring, fields, a.data) } as T;
}

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * A result with its envelopes opened: under the encrypted field names at any depth (included
 * relations), or anywhere in a raw query's rows (`anyKey`). Opened values are not walked again.
 */
export function openResult(ring: KeyRing | null, result: unknown, anyKey: boolean): unknown {
  if (Array.isArray(result)) {
    for (let i = 0; i < result.length; i++) result[i] = openResult(ring, result[i], anyKey);
    return result;
  }
  if (!result || typeof result !== "object" || !isPlain(result)) return result;
  const row = result as Record<string, unknown>;
  for (const k of Object.keys(row)) {
    const v = row[k];
    if (typeof v === "string") {
      if ((anyKey || ENCRYPTED_NAMES.has(k)) && v.startsWith("enc:")) row[k] = openValue(ring, v);
    } else if (v && typeof v === "object" && (Array.isArray(v) || isPlain(v)) && !ENCRYPTED_NAMES.has(k)) {
      // A relation (or a raw row's JSON); an encrypted column's clear JSON is not walked.
      openResult(ring, v, anyKey);
    }
  }
  return result;
}

/** Whether a model operation's result may hold encrypted fields (its own, or an included relation's). */
export function mayHoldEncrypted(model: string | undefined, operation: string, args: unknown): boolean {
  if (model === undefined) return RAW_READS.has(operation);
  if (BY_MODEL.has(model)) return true;
  const a = args as { include?: unknown; select?: unknown } | undefined;
  return !!a && typeof a === "object" && (a.include !== undefined || a.select !== undefined);
}
