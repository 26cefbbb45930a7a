/*
 * Personal data in free text (`maskPersonalData`): applied at write time to logs, audit diffs,
 * invocation and dead-letter errors, turn steps, config summaries and reasons. What it masks:
 * - mainland mobile numbers: 1[3-9]x xxxx xxxx, with an optional +86 / 86 prefix and spaces or dashes;
 * - international numbers in E.164 form: "+" then 7 to 15 digits (spaces or dashes between);
 * - email addresses;
 * - mainland ID-card numbers: 18 characters (the last may be X) with a real birth date and a valid check digit;
 * - bank-card numbers: 16 to 19 digits (in groups or not) starting 2-6 or 9, passing the Luhn check.
 * What it must not touch: ids and times the system joins on (DingTalk ids, cuids, UUIDs, sha256
 * hex, ISO times, epoch milliseconds). So a number is only a candidate when no letter, digit,
 * "_" or "." sits directly before or after it (a run of digits inside an id or a hash never is),
 * and the ID-card and bank-card shapes must also pass their checksums.
 */
export const MASKS = {
  phone: "[phone]",
  email: "[email]",
  idCard: "[id-card]",
  bankCard: "[bank-card]",
} as const;

// Not inside a word, a longer number, a decimal or a dashed id. ASCII only: Chinese text puts
// no space before a number ("手机13812345678"), so a CJK character is a boundary.
const B = "(?<![A-Za-z0-9_.+-])";
const E = "(?![A-Za-z0-9_]|[.-][0-9])";
const SEP = "[ -]?";

const EMAIL =
  /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;
const MAINLAND_MOBILE = new RegExp(`${B}(?:(?:\\+|00)?86${SEP})?1[3-9][0-9]${SEP}[0-9]{4}${SEP}[0-9]{4}${E}`, "g");
const E164 = new RegExp(`${B}\\+[1-9](?:${SEP}[0-9]){6,14}${E}`, "g");
const ID_CARD = new RegExp(`${B}[1-9][0-9]{16}[0-9Xx]${E}`, "g");
const CARD = new RegExp(`${B}[2-69][0-9]{3}(?:${SEP}[0-9]){12,15}${E}`, "g");

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

/** An 18-character mainland ID-card number: a birth date that exists (1900 to today) and the ISO 7064 MOD 11-2 check. */
export function isIdCardNumber(s: string): boolean {
  if (!/^[1-9]\d{16}[\dXx]$/.test(s)) return false;
  const y = Number(s.slice(6, 10));
  const m = Number(s.slice(10, 12));
  const d = Number(s.slice(12, 14));
  const birth = new Date(Date.UTC(y, m - 1, d));
  if (y < 1900 || birth.getUTCMonth() !== m - 1 || birth.getUTCDate() !== d || birth.getTime() > Date.now())
    return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(s[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11] === s[17]!.toUpperCase();
}

/** The Luhn check of a digit string. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let n = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    sum += n;
  }
  return sum % 10 === 0;
}

const digitsOf = (s: string) => s.replace(/[^\dXx]/g, "");

/** `text` with the phone numbers, emails, ID-card and bank-card numbers in it replaced by MASKS. */
export function maskPersonalData(text: string): string {
  // Cheap exit: every shape needs at least 7 digits, or an "@".
  if (!text.includes("@") && !/\d{3}/.test(text)) return text;
  return text
    .replace(EMAIL, MASKS.email)
    .replace(ID_CARD, (m) => (isIdCardNumber(m) ? MASKS.idCard : m))
    .replace(CARD, (m) => {
      const d = digitsOf(m);
      return d.length >= 16 && d.length <= 19 && luhnValid(d) ? MASKS.bankCard : m;
    })
    .replace(MAINLAND_MOBILE, MASKS.phone)
    .replace(E164, MASKS.phone);
}

/** `value` with `maskPersonalData` applied to every string (and every number that is one of the shapes), at any depth. */
export function maskDeep<T>(value: T): T {
  return maskAny(value) as T;
}

function maskAny(value: unknown): unknown {
  if (typeof value === "string") return maskPersonalData(value);
  if (typeof value === "number" && Number.isSafeInteger(value) && Math.abs(value) >= 1_000_000) {
    const s = String(value);
    const masked = maskPersonalData(s);
    return masked === s ? value : masked;
  }
  if (Array.isArray(value)) return value.map(maskAny);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskAny(v)]));
  }
  return value;
}

/**
 * Free-text columns that people and errors write into (reasons, notes, summaries, error texts):
 * masked on every Prisma create/update/upsert (index.ts). Not the audit log (its diff is masked
 * before it is hashed, in core's appendAudit) and not message content (payloads, memory, approval
 * inputs and results, replies: those are kept to be processed, and encrypted at rest).
 * Raw-SQL writers of these columns mask their values themselves.
 */
export const FREE_TEXT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  SkillRule: ["note"],
  McpServer: ["lastError"],
  SafeModeState: ["message"],
  SafeModeEvent: ["reason", "endReason", "review", "message"],
  OpsNotice: ["title", "text"],
  BreakGlassGrant: ["reason"],
  Incident: ["title", "review"],
  IncidentTrigger: ["summary"],
  InboundMessage: ["error"],
  TurnStep: ["data"],
  DeadLetter: ["reason"],
  OutboundMessage: ["lastError"],
  SkillInvocation: ["error"],
  ApprovalRequest: ["decisionNote", "reason"],
  ApprovalDecision: ["note"],
  ConfigRevision: ["summary"],
};

/** The Prisma operations that write their `data` (masked here, sealed by encrypted-fields.ts). */
export const WRITES: ReadonlySet<string> = new Set([
  "create",
  "createMany",
  "createManyAndReturn",
  "update",
  "updateMany",
  "updateManyAndReturn",
  "upsert",
]);

function maskData(data: unknown, fields: readonly string[]): unknown {
  if (Array.isArray(data)) return data.map((d) => maskData(d, fields));
  if (!data || typeof data !== "object") return data;
  const out: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  for (const f of fields) {
    const v = out[f];
    if (v === undefined || v === null) continue;
    // `{ set: "..." }` is Prisma's explicit form of an update.
    if (typeof v === "object" && !Array.isArray(v) && "set" in v)
      out[f] = { ...v, set: maskDeep((v as { set: unknown }).set) };
    else out[f] = maskDeep(v);
  }
  return out;
}

/** A model operation's arguments with its free-text fields masked (FREE_TEXT_FIELDS). */
export function maskWriteArgs<T>(model: string | undefined, operation: string, args: T): T {
  const fields = model === undefined ? undefined : FREE_TEXT_FIELDS[model];
  if (!fields || !WRITES.has(operation) || !args || typeof args !== "object") return args;
  const a = args as Record<string, unknown>;
  if (operation === "upsert")
    return { ...a, create: maskData(a.create, fields), update: maskData(a.update, fields) } as T;
  return { ...a, data: maskData(a.data, fields) } as T;
}
