import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DingTalkCrypto, DingTalkCryptoError } from "./crypto.ts";

const token = "clawgate-token";
const aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"; // 43 chars
const ownerKey = "dingappkey123";
const crypto = new DingTalkCrypto({ token, aesKey, ownerKey });

/** The note's algorithm, written out with raw node:crypto and no code from crypto.ts. */
const key = Buffer.from(aesKey + "=", "base64");
const iv = key.subarray(0, 16);

function independentEncrypt(msg: string, owner = ownerKey): string {
  const msgBytes = Buffer.from(msg, "utf8");
  const len = Buffer.from([
    (msgBytes.length >>> 24) & 255,
    (msgBytes.length >>> 16) & 255,
    (msgBytes.length >>> 8) & 255,
    msgBytes.length & 255,
  ]);
  const body = Buffer.concat([Buffer.from("0123456789abcdef"), len, msgBytes, Buffer.from(owner, "utf8")]);
  let pad = 32 - (body.length % 32);
  if (pad === 0) pad = 32;
  const padded = Buffer.concat([body, Buffer.alloc(pad, pad)]);
  const c = createCipheriv("aes-256-cbc", key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(padded), c.final()]).toString("base64");
}

function independentDecrypt(encrypt: string): Buffer {
  const d = createDecipheriv("aes-256-cbc", key, iv);
  d.setAutoPadding(false);
  return Buffer.concat([d.update(Buffer.from(encrypt, "base64")), d.final()]);
}

function independentSignature(parts: string[]): string {
  return createHash("sha1")
    .update([...parts].sort().join(""))
    .digest("hex");
}

describe("DingTalkCrypto", () => {
  it.each([
    ["ASCII", '{"EventType":"check_url"}'],
    ["Chinese", "钉钉事件订阅：审批通过 ✅"],
    ["empty", ""],
    ["1 byte", "x"],
    ["31 bytes", "a".repeat(31)],
    ["32 bytes", "b".repeat(32)],
    ["33 bytes", "c".repeat(33)],
  ])("round-trips %s", (_name, msg) => {
    expect(crypto.decrypt(crypto.encrypt(msg))).toBe(msg);
  });

  it("produces the documented layout: random(16) || BE length || msg || ownerKey || pad", () => {
    const msg = "审批 ok";
    const plain = independentDecrypt(crypto.encrypt(msg));
    const msgLen = Buffer.byteLength(msg);
    expect(plain.readUInt32BE(16)).toBe(msgLen);
    expect(plain.subarray(20, 20 + msgLen).toString("utf8")).toBe(msg);
    expect(plain.subarray(20 + msgLen, 20 + msgLen + ownerKey.length).toString("utf8")).toBe(ownerKey);
    const pad = plain[plain.length - 1]!;
    expect(plain.length % 32).toBe(0);
    expect(20 + msgLen + ownerKey.length + pad).toBe(plain.length);
  });

  it("adds a full 32-byte pad block when the body is already a multiple of 32", () => {
    // 20 header bytes + 31 message bytes + 13 owner bytes = 64.
    const msg = "m".repeat(64 - 20 - ownerKey.length);
    const plain = independentDecrypt(crypto.encrypt(msg));
    expect(plain.length).toBe(96);
    expect(plain.subarray(64).every((b) => b === 32)).toBe(true);
    expect(crypto.decrypt(crypto.encrypt(msg))).toBe(msg);
  });

  it("decrypts a vector built independently from the note", () => {
    for (const msg of ['{"EventType":"user_add_org","UserId":["u1"]}', "中文", "m".repeat(31)]) {
      expect(crypto.decrypt(independentEncrypt(msg))).toBe(msg);
    }
  });

  it("signs by sorting [token, timestamp, nonce, encrypt] and verifies in both directions", () => {
    const encrypt = independentEncrypt("hello");
    const expected = independentSignature([token, "1700000000000", "nonce123", encrypt]);
    expect(crypto.signature("1700000000000", "nonce123", encrypt)).toBe(expected);
    expect(crypto.verify(expected, "1700000000000", "nonce123", encrypt)).toBe(true);
    expect(crypto.verify(expected, "1700000000001", "nonce123", encrypt)).toBe(false);
    expect(
      crypto.verify(expected.slice(0, -1) + (expected.endsWith("0") ? "1" : "0"), "1700000000000", "nonce123", encrypt),
    ).toBe(false);
    expect(crypto.verify(expected.slice(1), "1700000000000", "nonce123", encrypt)).toBe(false);
    expect(crypto.verify("", "1700000000000", "nonce123", encrypt)).toBe(false);
  });

  it("encryptedResponse verifies and decrypts to success", () => {
    const res = crypto.encryptedResponse();
    expect(Object.keys(res).sort()).toEqual(["encrypt", "msg_signature", "nonce", "timeStamp"]);
    expect(res.msg_signature).toBe(independentSignature([token, res.timeStamp, res.nonce, res.encrypt]));
    expect(crypto.verify(res.msg_signature, res.timeStamp, res.nonce, res.encrypt)).toBe(true);
    expect(crypto.decrypt(res.encrypt)).toBe("success");
    const fixed = crypto.encryptedResponse("success", "1700000000000", "n0nce");
    expect(fixed.timeStamp).toBe("1700000000000");
    expect(fixed.nonce).toBe("n0nce");
  });

  it("rejects tampered ciphertext", () => {
    const encrypt = crypto.encrypt("tamper me");
    const bytes = Buffer.from(encrypt, "base64");
    // Flipping a bit in the second-to-last block flips the same bit of the last plaintext byte (the pad length).
    bytes[bytes.length - 17]! ^= 0x40;
    const tampered = bytes.toString("base64");
    expect(() => crypto.decrypt(tampered)).toThrow(DingTalkCryptoError);
    expect(crypto.verify(crypto.signature("1", "n", encrypt), "1", "n", tampered)).toBe(false);
    expect(() => crypto.decrypt(Buffer.from(bytes.subarray(0, 40)).toString("base64"))).toThrow(DingTalkCryptoError);
    expect(() => crypto.decrypt("")).toThrow(DingTalkCryptoError);
  });

  it("rejects a message for another owner key", () => {
    expect(() => crypto.decrypt(independentEncrypt("hi", "otherappkey12"))).toThrow(/owner key/);
    expect(() => crypto.decrypt(independentEncrypt("hi", "short"))).toThrow(DingTalkCryptoError);
  });

  it("rejects a message encrypted with another AES key", () => {
    const other = new DingTalkCrypto({ token, aesKey: "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut", ownerKey });
    for (let i = 0; i < 20; i++)
      expect(() => crypto.decrypt(other.encrypt("secret " + i))).toThrow(DingTalkCryptoError);
  });

  it("refuses an AES key that is not 43 base64 characters", () => {
    expect(() => new DingTalkCrypto({ token, aesKey: aesKey.slice(1), ownerKey })).toThrow(DingTalkCryptoError);
    expect(() => new DingTalkCrypto({ token, aesKey: aesKey.slice(1) + "!", ownerKey })).toThrow(DingTalkCryptoError);
  });
});
