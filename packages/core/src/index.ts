export * from "./actor.ts";
export * from "./audit.ts";
export * from "./diff.ts";
export * from "./revision.ts";
export * from "./seed/demo-users.ts";
export * from "./seed/demo.ts";
export * from "./policy/index.ts";
export * from "./config/onboard.ts";
