import type { ViteUserConfig } from "vitest/config";

/** The workspace's vitest config: shared defaults, then `overrides` (see vitest-preset.js). */
export declare function vitestPreset(packageDir: string, overrides?: ViteUserConfig["test"]): ViteUserConfig;
