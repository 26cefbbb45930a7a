/**
 * The one rule that makes untrusted text storable in PostgreSQL (and sendable to DingTalk):
 * NUL (U+0000) is removed, and a lone UTF-16 surrogate (U+D800..U+DFFF without its pair) is
 * replaced by U+FFFD. Nothing else changes: RTL marks, zero-width joiners, emoji sequences and
 * 4-byte characters are stored as they came. PostgreSQL's text and jsonb cannot hold either
 * (`invalid byte sequence`, `unsupported Unicode escape sequence`), and a message that fails
 * on them must not fail forever.
 *
 * Applied at the storage boundary: every statement's parameters go through `storableParam`
 * in the pg `Client` every pool of the project uses (pg.ts), Prisma's included. Pure, no
 * Prisma import: apps use it for text they send elsewhere (the DingTalk reply).
 */

// ES2024 string methods (Node 20 has them; the project's TypeScript lib is older).
declare global {
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

const NUL = "\u0000";
/** A JSON escape of NUL or of any surrogate, preceded by an even number of backslashes. */
const JSON_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/;

/** True when `s` holds a NUL or a lone surrogate. */
export function isUnstorable(s: string): boolean {
  return s.includes(NUL) || !s.isWellFormed();
}

/** `s` without NUL, its lone surrogates replaced by U+FFFD (the same string when it had none). */
export function storableText(s: string): string {
  if (!isUnstorable(s)) return s;
  // Surrogates are judged in the text as given: removing a NUL first could join a lone high and a
  // lone low surrogate around it into a pair that was never there ("\udbff\u0000\udfff").
  return s.toWellFormed().replaceAll(NUL, "");
}

/** How many UTF-16 code units `storableText` removes or replaces in `s`. */
export function unstorableCount(s: string): number {
  if (!isUnstorable(s)) return 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) n++;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else n++;
    } else if (c >= 0xdc00 && c <= 0xdfff) n++;
  }
  return n;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with every string in it (object keys included, deeply through plain objects and
 * arrays) made storable. Returns the very same value when nothing needed a change, so the
 * common case allocates nothing. Dates, Buffers and class instances are left as they are.
 */
export function storable<T>(value: T): T {
  if (typeof value === "string") return storableText(value) as T;
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const s = storable(v);
      if (s !== v) (out ??= value.slice())[i] = s;
    }
    return (out ?? value) as T;
  }
  if (!isPlainObject(value)) return value;
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const key = storableText(k);
    const s = storable(v);
    if (key !== k || s !== v) {
      out ??= { ...value };
      if (key !== k) delete out[k];
      out[key] = s;
    }
  }
  return (out ?? value) as T;
}

/** How many code units `storable` removes or replaces in `value` (keys included). */
export function countUnstorable(value: unknown): number {
  if (typeof value === "string") return unstorableCount(value);
  if (typeof value !== "object" || value === null) return 0;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countUnstorable(v), 0);
  if (!isPlainObject(value)) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(value)) n += unstorableCount(k) + countUnstorable(v);
  return n;
}

/**
 * One statement parameter made storable. Beyond `storable`: a string that is JSON text (what
 * `JSON.stringify` and Prisma send for json/jsonb) and escapes a NUL or a lone surrogate
 * (`\u0000`, `\ud800`) is parsed, made storable and written again; JSON text without such an
 * escape, and any text that is not JSON, passes unchanged.
 */
export function storableParam(value: unknown): unknown {
  if (typeof value !== "string") return storable(value);
  const text = storableText(value);
  if (!JSON_ESCAPE.test(text)) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text; // not JSON: a literal backslash-u in text is fine as it is
  }
  const clean = storable(parsed);
  return clean === parsed ? text : JSON.stringify(clean);
}
