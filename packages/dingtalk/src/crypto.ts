/**
 * Event-subscription callback crypto (shared/notes/dingtalk-protocol.md §3).
 *   signature = hex(SHA1(concat(sort([token, timestamp, nonce, encrypt]))))
 *   key = base64decode(aesKey + "="), IV = key[0..16], AES-256-CBC without automatic padding
 *   plaintext = random(16) || uint32 BE byte length || msg (UTF-8) || ownerKey, padded to 32 bytes
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** DingTalk pads PKCS#7-style to a 32-byte block, not AES's 16. */
const PAD_BLOCK = 32;
const RANDOM_PREFIX = 16;
const HEADER = RANDOM_PREFIX + 4;

export class DingTalkCryptoError extends Error {
  override name = "DingTalkCryptoError";
}

export interface DingTalkCryptoOptions {
  token: string;
  /** 43 characters of base64 without its trailing "=". */
  aesKey: string;
  /** AppKey for an internal app; corpId or suiteKey in other setups. */
  ownerKey: string;
}

export interface EncryptedResponse {
  msg_signature: string;
  timeStamp: string;
  nonce: string;
  encrypt: string;
}

export class DingTalkCrypto {
  readonly #token: string;
  readonly #key: Buffer;
  readonly #ownerKey: Buffer;

  constructor(opts: DingTalkCryptoOptions) {
    if (!/^[A-Za-z0-9+/]{43}$/.test(opts.aesKey)) throw new DingTalkCryptoError("aesKey must be 43 base64 characters");
    this.#key = Buffer.from(opts.aesKey + "=", "base64");
    if (this.#key.length !== 32) throw new DingTalkCryptoError("aesKey does not decode to 32 bytes");
    this.#token = opts.token;
    this.#ownerKey = Buffer.from(opts.ownerKey, "utf8");
  }

  signature(timestamp: string, nonce: string, encrypt: string): string {
    const joined = [this.#token, timestamp, nonce, encrypt].sort().join("");
    return createHash("sha1").update(joined, "utf8").digest("hex");
  }

  verify(msgSignature: string, timestamp: string, nonce: string, encrypt: string): boolean {
    const expected = Buffer.from(this.signature(timestamp, nonce, encrypt), "utf8");
    const given = Buffer.from(msgSignature, "utf8");
    // timingSafeEqual needs equal lengths; a length mismatch is itself a mismatch.
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  encrypt(plaintext: string): string {
    const msg = Buffer.from(plaintext, "utf8");
    const length = Buffer.alloc(4);
    length.writeUInt32BE(msg.length);
    const body = Buffer.concat([randomBytes(RANDOM_PREFIX), length, msg, this.#ownerKey]);
    // Always pad, a full block when already aligned, so the last byte is always the pad length.
    const pad = PAD_BLOCK - (body.length % PAD_BLOCK);
    const cipher = createCipheriv("aes-256-cbc", this.#key, this.#key.subarray(0, 16)).setAutoPadding(false);
    return Buffer.concat([cipher.update(Buffer.concat([body, Buffer.alloc(pad, pad)])), cipher.final()]).toString(
      "base64",
    );
  }

  /** Callers verify the signature first, so a failure here means a misconfigured key or owner. */
  decrypt(encrypt: string): string {
    const data = Buffer.from(encrypt, "base64");
    if (data.length === 0 || data.length % 16 !== 0)
      throw new DingTalkCryptoError("ciphertext is not a whole number of AES blocks");
    let plain: Buffer;
    try {
      const decipher = createDecipheriv("aes-256-cbc", this.#key, this.#key.subarray(0, 16)).setAutoPadding(false);
      plain = Buffer.concat([decipher.update(data), decipher.final()]);
    } catch (error) {
      throw new DingTalkCryptoError("AES decryption failed", { cause: error });
    }
    const pad = plain[plain.length - 1] ?? 0;
    if (
      pad < 1 ||
      pad > PAD_BLOCK ||
      pad > plain.length ||
      !plain.subarray(plain.length - pad).every((b) => b === pad)
    ) {
      throw new DingTalkCryptoError("bad padding");
    }
    const body = plain.subarray(0, plain.length - pad);
    if (body.length < HEADER) throw new DingTalkCryptoError("plaintext too short");
    const msgEnd = HEADER + body.readUInt32BE(RANDOM_PREFIX);
    if (msgEnd > body.length) throw new DingTalkCryptoError("message length out of range");
    const owner = body.subarray(msgEnd);
    if (owner.length !== this.#ownerKey.length || !timingSafeEqual(owner, this.#ownerKey)) {
      throw new DingTalkCryptoError("owner key mismatch");
    }
    return body.subarray(HEADER, msgEnd).toString("utf8");
  }

  /** The body DingTalk expects back from an event callback (within 2.5 s). */
  encryptedResponse(
    plaintext = "success",
    timestamp: string = String(Date.now()),
    nonce: string = randomBytes(8).toString("hex"),
  ): EncryptedResponse {
    const encrypt = this.encrypt(plaintext);
    return { msg_signature: this.signature(timestamp, nonce, encrypt), timeStamp: timestamp, nonce, encrypt };
  }
}
