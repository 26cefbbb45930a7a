/**
 * Shared vitest settings for every workspace. When `npm test` runs, it sets
 * CLAWGATE_TEST_REPORT_DIR and each package also writes a JSON report there, from which the
 * runner prints one "N passed, N failed" line for the whole suite.
 */
import path from "node:path";
import { defineConfig, type ViteUserConfig } from "vitest/config";

export function vitestPreset(packageDir: string, overrides: ViteUserConfig["test"] = {}): ViteUserConfig {
  const reportDir = process.env.CLAWGATE_TEST_REPORT_DIR;
  const name = path.basename(path.dirname(packageDir)) + "-" + path.basename(packageDir);
  return defineConfig({
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      // Integration tests create their own databases; keep files sequential on a 2-core machine.
      fileParallelism: false,
      reporters: reportDir ? ["default", "json"] : ["default"],
      ...(reportDir ? { outputFile: { json: path.join(reportDir, `${name}.json`) } } : {}),
      ...overrides,
    },
  });
}
