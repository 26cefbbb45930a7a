// Relative import, as in the packages: the shared preset lives in devstack.
import { vitestPreset } from "../../packages/devstack/src/vitest-preset.ts";

// Integration tests spawn the real CLI (tsx startup, `prisma migrate deploy`): give them time.
export default vitestPreset(import.meta.dirname, { testTimeout: 60_000, hookTimeout: 90_000 });
