import fc from "fast-check";
import { describe, expect, it } from "vitest";
// Relative import: a package dependency on devstack would make a cycle (devstack uses db).
import { hostileText } from "@clawgate/devstack/hostile-text";
import { countUnstorable, isUnstorable, storable, storableParam, storableText, unstorableCount } from "./storable.ts";

/** What the rule promises: NUL removed, each lone surrogate -> U+FFFD, nothing else touched. */
function reference(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) continue;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
      } else out += "\ufffd";
    } else if (c >= 0xdc00 && c <= 0xdfff) out += "\ufffd";
    else out += s[i]!;
  }
  return out;
}

describe("storableText", () => {
  it("judges surrogates as given: a NUL between two lone halves does not make them a pair", () => {
    // The counterexample fast-check found when NUL was removed first.
    expect(storableText("\udbff\u0000\udfff")).toBe("\ufffd\ufffd");
    expect(unstorableCount("\udbff\u0000\udfff")).toBe(3);
  });
  it("removes NUL, replaces lone surrogates and changes nothing else", () => {
    fc.assert(
      fc.property(hostileText(), (s) => {
        const t = storableText(s);
        expect(t).toBe(reference(s));
        expect(isUnstorable(t)).toBe(false);
        const nuls = s.split("\u0000").length - 1;
        const replaced = t.split("\ufffd").length - s.split("\ufffd").length;
        expect(s.length - t.length).toBe(nuls);
        expect(unstorableCount(s)).toBe(nuls + replaced);
      }),
      { numRuns: 100 },
    );
  });

  it("keeps RTL marks, joiners, emoji sequences and 4-byte characters as they are", () => {
    const s = "\u202eabc\u200f 👩‍👩‍👧 🇨🇳 𠀀 a\u200db";
    expect(storableText(s)).toBe(s);
    expect(unstorableCount(s)).toBe(0);
    expect(storableText("a\u0000b\ud800c\udc00")).toBe("ab\ufffdc\ufffd");
    expect(unstorableCount("a\u0000b\ud800c\udc00")).toBe(3);
  });
});

describe("storable / storableParam", () => {
  it("cleans strings deeply, keys included, and returns the same object when clean", () => {
    const clean = { a: ["x", { b: 1, c: null }], d: new Date(0) };
    expect(storable(clean)).toBe(clean);
    const dirty = { "k\u0000": ["x\ud800", { b: "\u0000" }], d: new Date(0) };
    expect(storable(dirty)).toEqual({ k: ["x\ufffd", { b: "" }], d: new Date(0) });
    expect(countUnstorable(dirty)).toBe(3);
    expect(dirty["k\u0000"][0]).toBe("x\ud800"); // the input is not mutated
  });

  it("rewrites JSON text whose escapes PostgreSQL refuses, and nothing else", () => {
    fc.assert(
      fc.property(fc.jsonValue(), hostileText(), (value, s) => {
        const json = JSON.stringify({ value, s });
        const param = storableParam(json) as string;
        expect(JSON.parse(param)).toEqual(storable(JSON.parse(json)));
      }),
      { numRuns: 200 },
    );
    // A literal backslash-u typed by a user (escaped in JSON) is text, not an escape.
    const literal = JSON.stringify({ t: "\\u0000 and \\ud800" });
    expect(storableParam(literal)).toBe(literal);
    expect(storableParam("not json \\u0000")).toBe("not json \\u0000");
    expect(storableParam('{"a":"\\ud83d\\ude00"}')).toBe('{"a":"\\ud83d\\ude00"}');
  });
});
