/**
 * fast-check arbitraries for property tests of text PostgreSQL cannot store: arbitrary Unicode
 * (binary strings, graphemes) with NUL, lone surrogates, RTL marks, zero-width joiners, emoji
 * sequences, 4-byte characters and a literal backslash-u mixed in.
 */
import fc from "fast-check";

export const HOSTILE_PIECES = [
  "\u0000",
  "\ud800",
  "\udfff",
  "\udbff",
  "\u200f",
  "\u202e",
  "\u200d",
  "👩‍👩‍👧",
  "🇨🇳",
  "𠀀",
  "\\u0000",
] as const;

export function hostileText(opts: { minParts?: number; maxParts?: number } = {}): fc.Arbitrary<string> {
  return fc
    .array(
      fc.oneof(
        fc.constantFrom(...HOSTILE_PIECES),
        fc.string({ unit: "binary", maxLength: 8 }),
        fc.string({ unit: "grapheme", maxLength: 4 }),
      ),
      { minLength: opts.minParts ?? 0, maxLength: opts.maxParts ?? 12 },
    )
    .map((parts) => parts.join(""));
}
