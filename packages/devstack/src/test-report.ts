/**
 * The JSON reports vitest and Playwright write during `npm test`, summed into one line, with the
 * failed tests named (file, test, first line of the error) so a CI log's tail says what failed.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { REPO_ROOT } from "./paths.ts";

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  /** "file › test: first line of the failure", so a CI log's tail names what failed. */
  failures: string[];
}

interface VitestReport {
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
  testResults?: {
    name: string;
    status?: string;
    message?: string;
    assertionResults?: { fullName: string; status: string; failureMessages?: string[] }[];
  }[];
}

interface PlaywrightSuite {
  title?: string;
  file?: string;
  specs?: { title: string; ok: boolean; file?: string; tests?: { results?: { error?: { message?: string } }[] }[] }[];
  suites?: PlaywrightSuite[];
}

interface PlaywrightReport {
  stats: { expected: number; unexpected: number; flaky: number; skipped: number };
  suites?: PlaywrightSuite[];
  errors?: { message?: string }[];
}

const firstLine = (text: string | undefined) =>
  stripVTControlCharacters(text ?? "")
    .trim()
    .split("\n")[0]
    ?.slice(0, 300) ?? "";
const relative = (file: string) => path.relative(REPO_ROOT, path.resolve(REPO_ROOT, file));

function playwrightFailures(suites: PlaywrightSuite[] | undefined, out: string[]): void {
  for (const suite of suites ?? []) {
    for (const spec of suite.specs ?? []) {
      if (spec.ok) continue;
      const error = spec.tests?.flatMap((t) => t.results ?? []).find((r) => r.error)?.error?.message;
      out.push(`e2e/${spec.file ?? suite.file ?? ""} › ${spec.title}: ${firstLine(error)}`);
    }
    playwrightFailures(suite.suites, out);
  }
}

/** Sums the JSON reports that vitest (and Playwright) wrote for this run, and names the failures. */
export async function countResults(reportDir: string): Promise<Counts> {
  const counts: Counts = { passed: 0, failed: 0, skipped: 0, failures: [] };
  if (!existsSync(reportDir)) return counts;
  for (const file of (await readdir(reportDir)).sort()) {
    const report = JSON.parse(await readFile(path.join(reportDir, file), "utf8")) as VitestReport | PlaywrightReport;
    if ("stats" in report) {
      counts.passed += report.stats.expected + report.stats.flaky;
      counts.failed += report.stats.unexpected;
      counts.skipped += report.stats.skipped;
      playwrightFailures(report.suites, counts.failures);
      for (const error of report.errors ?? []) counts.failures.push(`e2e: ${firstLine(error.message)}`);
    } else {
      counts.passed += report.numPassedTests ?? 0;
      counts.failed += report.numFailedTests ?? 0;
      counts.skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
      for (const suite of report.testResults ?? []) {
        const failedTests = (suite.assertionResults ?? []).filter((a) => a.status === "failed");
        for (const a of failedTests)
          counts.failures.push(`${relative(suite.name)} › ${a.fullName}: ${firstLine(a.failureMessages?.[0])}`);
        // A file that failed to load (or in a hook) has no failed test of its own.
        if (suite.status === "failed" && failedTests.length === 0)
          counts.failures.push(`${relative(suite.name)}: ${firstLine(suite.message)}`);
      }
    }
  }
  return counts;
}
