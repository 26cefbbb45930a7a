import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { hashId, luhnValid, maskDeep, maskPersonalData, redactInput } from "./redact.ts";

describe("redactInput", () => {
  it("keeps what the approver judges and hides credentials at any depth", () => {
    expect(
      redactInput({
        title: "t",
        headers: { Authorization: "Bearer x", accept: "json" },
        list: [{ apiKey: "k" }],
        access_token: "t",
      }),
    ).toEqual({
      title: "t",
      headers: { Authorization: "[redacted]", accept: "json" },
      list: [{ apiKey: "[redacted]" }],
      access_token: "[redacted]",
    });
  });
});

describe("hashId", () => {
  it("is 12 hex digits, the same for the same id and different for another", () => {
    expect(hashId("cid-1")).toMatch(/^[0-9a-f]{12}$/);
    expect(hashId("cid-1")).toBe(hashId("cid-1"));
    expect(hashId("cid-2")).not.toBe(hashId("cid-1"));
    expect(hashId("cid-1")).not.toContain("cid");
  });
});

describe("maskPersonalData", () => {
  const cases: Array<[string, string]> = [
    ["call 13812345678 now", "call [phone] now"],
    ["+86 138 1234 5678", "[phone]"],
    ["+8613812345678, 0086-138-1234-5678", "[phone], [phone]"],
    ["手机13812345678谢谢", "手机[phone]谢谢"],
    ["US +1 415 555 2671; UK +44 20 7946 0958", "US [phone]; UK [phone]"],
    ["mail zhang.san+x@mail.example.com.", "mail [email]."],
    ["邮箱li_si@example.cn谢谢", "邮箱[email]谢谢"],
    ["id 11010519491231002X ok", "id [id-card] ok"],
    ["身份证110105194912310029", "身份证110105194912310029"], // wrong check digit: not an ID card
    ["card 6222 0212 3456 7890 128 x", "card [bank-card] x"],
    ["4111111111111111", "[bank-card]"],
    ["4111-1111-1111-1111", "[bank-card]"],
    ["4111111111111112", "4111111111111112"], // fails Luhn
  ];
  it.each(cases)("masks %j", (input, expected) => {
    expect(maskPersonalData(input)).toBe(expected);
  });

  const survivors = [
    "2026-12-04T16:30:00.000Z",
    "1733312345678",
    "1733312345678901",
    "cid6KeBBLoveMJOGXoYKF5x7EeiodoA==",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "ckx1a2b3c4d5e6f7g8h9i0jk",
    "manager4220",
    "msg13812345678",
    "ding13812345678abc",
    "$:LWCP_v1:$Q2x9a1b2c3d4e5f6==",
    "v1.13812345678",
    "550e8400-e29b-41d4-a716-446655440000",
    "trace 0af7651916cd43dd8448eb211c80319c",
    "@clawgate/core@1.2.3",
  ];
  it.each(survivors)("leaves %j alone", (s) => {
    expect(maskPersonalData(s)).toBe(s);
  });

  // Generators of the values that must go.
  const digits = (n: number) =>
    fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(""));
  const mobile = fc
    .tuple(
      fc.constantFrom("13", "14", "15", "16", "17", "18", "19"),
      digits(9),
      fc.constantFrom("", "+86 ", "+86", "86"),
    )
    .map(([p, rest, prefix]) => `${prefix}${p}${rest}`);
  const e164 = fc.tuple(fc.integer({ min: 1, max: 9 }), digits(9)).map(([c, rest]) => `+${c}${rest}`);
  const email = fc.emailAddress().filter((e) => /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/.test(e));
  const idCard = fc
    .tuple(
      fc.integer({ min: 110000, max: 659999 }),
      fc.date({ min: new Date("1930-01-01"), max: new Date("2020-12-31"), noInvalidDate: true }),
      digits(3),
    )
    .map(([region, birth, seq]) => {
      const body = `${region}${birth.toISOString().slice(0, 10).replaceAll("-", "")}${seq}`;
      let sum = 0;
      for (let i = 0; i < 17; i++) sum += Number(body[i]) * [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2][i]!;
      return body + "10X98765432"[sum % 11]!;
    });
  const bankCard = fc
    .tuple(fc.constantFrom("62", "4", "51", "35", "9"), fc.integer({ min: 16, max: 19 }), digits(19))
    .map(([prefix, len, rest]) => {
      const body = (prefix + rest).slice(0, len - 1);
      for (let c = 0; c <= 9; c++) if (luhnValid(body + c)) return body + c;
      throw new Error("unreachable");
    });
  const personal = fc.oneof(mobile, e164, email, idCard, bankCard);
  const filler = fc.constantFrom(" ", ", ", "：", "联系", " tel ", "\n", "(", ") ", "是");

  it("never leaves a generated value in clear, wherever it sits in the text", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(filler, personal), { minLength: 1, maxLength: 5 }), (parts) => {
        const text = parts.map(([f, p]) => f + p).join("") + " ";
        const masked = maskPersonalData(text);
        for (const [, p] of parts) expect(masked).not.toContain(p);
      }),
      { numRuns: 500 },
    );
  });

  it("leaves ids, hashes and times alone", () => {
    const id = fc.oneof(
      fc.uuid(),
      fc.hexaString({ minLength: 64, maxLength: 64 }),
      fc
        .date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
        .map((d) => d.toISOString()),
      fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }).map(String), // epoch ms
      fc.stringMatching(/^c[a-z0-9]{24}$/), // cuid
      fc.stringMatching(/^(cid|ding|msg|manager)[A-Za-z0-9+/]{8,40}={0,2}$/), // DingTalk ids
    );
    fc.assert(
      fc.property(fc.array(id, { minLength: 1, maxLength: 4 }), (ids) => {
        const text = ids.join(" ");
        expect(maskPersonalData(text)).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it("masks strings and matching numbers at any depth, and keeps the rest", () => {
    expect(
      maskDeep({
        reason: "call 13812345678",
        n: 13812345678,
        count: 3,
        at: "2026-12-04T16:30:00.000Z",
        list: ["a@b.co"],
      }),
    ).toEqual({ reason: "call [phone]", n: "[phone]", count: 3, at: "2026-12-04T16:30:00.000Z", list: ["[email]"] });
  });
});
