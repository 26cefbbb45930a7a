import { vitestPreset } from "@clawgate/devstack/vitest-preset";

// Integration tests spawn the real CLI (tsx startup, `prisma migrate deploy`): give them time.
export default vitestPreset(import.meta.dirname, { testTimeout: 60_000, hookTimeout: 90_000 });
