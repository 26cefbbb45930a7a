/** Request bodies for the local stand-ins (fake DingTalk, demo IdP and model, fake internal API). */
import type { IncomingMessage } from "node:http";

export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`request body over ${maxBytes} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/**
 * The body as UTF-8 text, at most `maxBytes`. Over the cap it rejects with BodyTooLargeError and
 * drains the rest (so the caller can still answer, e.g. 413); a caller that would rather drop the
 * connection destroys the request itself.
 */
export function readRequestText(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    let tooLarge = false;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > maxBytes) {
        tooLarge = true;
        reject(new BodyTooLargeError(maxBytes));
        req.resume();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
