/**
 * `npm start` stops everything when npm itself is signalled (not only its process group, as a
 * terminal's Ctrl-C does) or killed. Runs the root package.json's real `start` script through npm,
 * with start.ts swapped for a small stand-in that owns one child process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/paths.ts";

const START = "packages/devstack/src/start.ts";
const FIXTURE = path.join(import.meta.dirname, "fixtures/stop-demo.ts");

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

const cleanup: (() => void)[] = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

/** `npm start` in a throwaway package (inside the repo, so `tsx` resolves) whose script is the root's. */
async function npmStart(): Promise<{ npm: ChildProcess; servicePid: number }> {
  const script = (
    JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
      scripts: { start: string };
    }
  ).scripts.start;
  expect(script.split(START)).toHaveLength(2);
  const dir = mkdtempSync(path.join(REPO_ROOT, "packages/devstack/test/.npm-start-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "stop-check", private: true, scripts: { start: script.replace(START, FIXTURE) } }),
  );
  const npm = spawn("npm", ["start", "--silent"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  cleanup.push(() => npm.exitCode === null && npm.kill("SIGKILL"));
  let out = "";
  npm.stderr.on("data", (d: Buffer) => (out += d));
  const servicePid = await new Promise<number>((resolve, reject) => {
    npm.stdout.on("data", (d: Buffer) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    npm.once("exit", (code) => reject(new Error(`npm start exited ${code}: ${out}`)));
  });
  cleanup.push(() => alive(servicePid) && process.kill(servicePid, "SIGKILL"));
  return { npm, servicePid };
}

describe("npm start stops what it started", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`on ${signal} sent to the npm process alone`, async () => {
      const { npm, servicePid } = await npmStart();
      expect(alive(servicePid)).toBe(true);
      const exited = new Promise((r) => npm.once("exit", r));
      npm.kill(signal);
      await exited;
      expect(await until(() => !alive(servicePid), 5_000)).toBe(true);
    }, 30_000);
  }

  it("when npm is killed outright (SIGKILL: nothing is forwarded)", async () => {
    const { npm, servicePid } = await npmStart();
    npm.kill("SIGKILL");
    expect(await until(() => !alive(servicePid), 5_000)).toBe(true);
  }, 30_000);
});
