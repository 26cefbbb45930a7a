// Fails when `npm install` had to change package-lock.json: package.json and the committed lock
// disagree. Entries for other platforms' optional builds (turbo's darwin/windows binaries) are
// left out of the comparison: npm records them only when the registry it reaches serves them,
// so whether they appear depends on the mirror, not on the project.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const foreign = (entry) => entry.optional === true && Array.isArray(entry.os) && !entry.os.includes(process.platform);
const packages = (lock) =>
  Object.fromEntries(Object.entries(lock.packages ?? {}).filter(([, entry]) => !foreign(entry)));

const committed = packages(
  JSON.parse(execFileSync("git", ["show", "HEAD:package-lock.json"], { encoding: "utf8", maxBuffer: 64 << 20 })),
);
const installed = packages(JSON.parse(readFileSync("package-lock.json", "utf8")));
const changed = [...new Set([...Object.keys(committed), ...Object.keys(installed)])].filter(
  (key) => JSON.stringify(committed[key]) !== JSON.stringify(installed[key]),
);
if (changed.length > 0) {
  console.error(
    `npm install changed package-lock.json (${changed.length} entries), so package.json and the lock disagree:`,
  );
  for (const key of changed.slice(0, 20))
    console.error(
      `  ${key || "(root)"}: ${committed[key]?.version ?? "absent"} -> ${installed[key]?.version ?? "absent"}`,
    );
  console.error("Run `npm install` and commit package-lock.json.");
  process.exit(1);
}
console.log("package-lock.json: in step with package.json");
