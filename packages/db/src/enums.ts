// Enums only: safe to import from client components (no database client is loaded).
export * from "./generated/enums.ts";
