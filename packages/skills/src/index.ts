export * from "./manifest.ts";
export * from "./builtin.ts";
export * from "./handler.ts";
export { BUILTIN_HANDLERS } from "./handlers/index.ts";
export { addressRefusal, allowlistRefusal, parseHostEntry } from "./handlers/net-guard.ts";
export * from "./breakers.ts";
export { internalApiBreakers } from "./handlers/internal-api.ts";
export * from "./mcp.ts";
export * from "./output.ts";
