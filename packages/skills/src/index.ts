export * from "./manifest.ts";
export * from "./builtin.ts";
