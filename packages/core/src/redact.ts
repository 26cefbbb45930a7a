/**
 * What may be shown or logged of data that can hold secrets or personal ids, in one place.
 * - `redactInput`: a tool call's input as an approver sees it (the input is what they judge,
 *   but a credential the model put in it is not shown).
 * - `hashId`: a stable short hash of an id (conversation ids are not secret, but logs stay
 *   joinable without carrying them in clear).
 */
import { createHash } from "node:crypto";

const SECRET_KEY = /token|secret|password|passwd|authori[sz]ation|api[-_]?key|cookie|credential/i;

/** `value` with every field whose name looks like a credential replaced by "[redacted]", at any depth. */
export function redactInput(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactInput);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? "[redacted]" : redactInput(v)]),
    );
  }
  return value;
}

/** The first 12 hex digits of the value's SHA-256. */
export const hashId = (value: string) => createHash("sha256").update(value).digest("hex").slice(0, 12);

// The masking of personal data lives with the storage boundary (packages/db), which applies it
// to free-text columns on every Prisma write; everything else takes it from here.
export { isIdCardNumber, luhnValid, maskDeep, maskPersonalData, MASKS } from "@clawgate/db/personal-data";
