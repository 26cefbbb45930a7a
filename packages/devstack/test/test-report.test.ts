/**
 * `npm test`'s summary from the reports the real tools write: vitest and Playwright each run a
 * small suite with a passing and a failing test into a temporary report folder.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify, stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATA_DIR, REPO_ROOT } from "../src/paths.ts";
import { countResults } from "../src/test-report.ts";

const run = promisify(execFile);
const bin = (name: string) => path.join(REPO_ROOT, "node_modules", ".bin", name);

// The tools exit non-zero for the failing test; the report is what matters here.
const tolerate = (p: Promise<unknown>) => p.catch((error: { code?: number }) => expect(error.code).toBe(1));

describe("countResults", () => {
  let dir: string;
  let reports: string;

  beforeAll(async () => {
    // Inside the repo, so the sample files resolve vitest and @playwright/test from its node_modules.
    await mkdir(DATA_DIR, { recursive: true });
    dir = await mkdtemp(path.join(DATA_DIR, "report-sample-"));
    reports = path.join(dir, "reports");
    await writeFile(
      path.join(dir, "sample.test.ts"),
      `import { expect, it } from "vitest";\nit("adds", () => expect(1 + 1).toBe(2));\nit("is wrong", () => expect("robot").toBe("human"));\n`,
    );
    await writeFile(
      path.join(dir, "sample.spec.ts"),
      `import { expect, test } from "@playwright/test";\ntest("passes", () => expect(true).toBe(true));\ntest("fails in the browser suite", () => expect(2).toBe(3));\n`,
    );
    await writeFile(
      path.join(dir, "playwright.config.ts"),
      // Its own output folder: Playwright empties it at start, and the repo's e2e artefacts must survive.
      `export default { testDir: ".", testMatch: "*.spec.ts", outputDir: ${JSON.stringify(path.join(dir, "test-results"))}, reporter: [["json", { outputFile: ${JSON.stringify(path.join(reports, "e2e.json"))} }]] };\n`,
    );
    await writeFile(path.join(dir, "vitest.config.mjs"), `export default { test: { include: ["*.test.ts"] } };\n`);
    const env = { ...process.env, CLAWGATE_TEST_REPORT_DIR: "" };
    await tolerate(
      run(bin("vitest"), ["run", "--root", dir, "--reporter=json", `--outputFile=${path.join(reports, "unit.json")}`], {
        cwd: dir,
        env,
      }),
    );
    await tolerate(
      run(bin("playwright"), ["test", "--config", path.join(dir, "playwright.config.ts")], { cwd: REPO_ROOT, env }),
    );
  }, 120_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("sums both tools' counts and names each failed test with its file and error", async () => {
    const counts = await countResults(reports);
    expect(counts).toMatchObject({ passed: 2, failed: 2, skipped: 0 });
    expect(counts.failures).toHaveLength(2);
    expect(counts.failures[0]).toMatch(
      /^e2e\/sample\.spec\.ts › fails in the browser suite: Error: expect\(received\)\.toBe\(expected\)/,
    );
    expect(counts.failures[1]).toMatch(/sample\.test\.ts › is wrong: AssertionError: expected 'robot' to be 'human'/);
    // Colour codes are stripped: the line reads the same in a CI log.
    for (const line of counts.failures) expect(line).toBe(stripVTControlCharacters(line));
  });

  it("is zero with no report folder", async () => {
    expect(await countResults(path.join(dir, "missing"))).toEqual({ passed: 0, failed: 0, skipped: 0, failures: [] });
  });
});
