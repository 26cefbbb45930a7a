export * from "./signature.ts";
export * from "./crypto.ts";
export * from "./messages.ts";
export * from "./replies.ts";
