/**
 * Shared vitest settings for every workspace. When `npm test` runs, it sets
 * CLAWGATE_TEST_REPORT_DIR and each package also writes a JSON report there, from which the
 * runner prints one "N passed, N failed" line for the whole suite.
 *
 * Plain JavaScript (types in vitest-preset.d.ts): vitest loads a workspace's vitest.config.ts
 * with Node, which imports `@clawgate/devstack/vitest-preset` as a package and cannot run
 * TypeScript from one.
 */
import path from "node:path";
import { defineConfig } from "vitest/config";

/** @type {import("./vitest-preset.d.ts").vitestPreset} */
export function vitestPreset(packageDir, overrides = {}) {
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
