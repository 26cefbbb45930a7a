export * from "./signature.ts";
export * from "./crypto.ts";
export * from "./messages.ts";
export * from "./replies.ts";
export { DingTalkApiError, DEFAULT_TIMEOUT_MS } from "./http.ts";
export * from "./openapi.ts";
export * from "./webhook.ts";
export * from "./stream.ts";
export * from "./cards.ts";
