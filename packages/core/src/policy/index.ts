export * from "./decide.ts";
export * from "./fixture.ts";
export * from "./snapshot.ts";
export * from "./store.ts";
