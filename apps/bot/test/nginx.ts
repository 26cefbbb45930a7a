/**
 * Debian's nginx (/usr/sbin/nginx) running the repo's edge config (deploy/nginx/clawgate.conf and
 * the dingtalk-ingress.conf it includes, unchanged) as a child process: free ports on 127.0.0.1, a
 * throwaway self-signed certificate, pid, logs and temp files in a temp folder. Works as root and
 * not: nothing outside the temp folder is written and no system service is needed.
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Agent } from "undici";
import { freePort, waitFor } from "./helpers.ts";

export const NGINX = process.env.NGINX_PATH ?? "/usr/sbin/nginx";
const DEPLOY_NGINX = path.resolve(import.meta.dirname, "../../../deploy/nginx");

export interface RunningNginx {
  /** https://127.0.0.1:PORT, the public edge. */
  base: string;
  /** A dispatcher that trusts the throwaway certificate (undici `request(url, { dispatcher })`). */
  dispatcher: Agent;
  errorLog(): string;
  accessLog(): string;
  close(): Promise<void>;
}

/** Replaces `from` in `text`, failing unless it occurs exactly `times` times (the config drifted). */
function replaceExactly(text: string, from: string, to: string, times = 1): string {
  const found = text.split(from).length - 1;
  if (found !== times)
    throw new Error(`deploy/nginx/clawgate.conf: expected ${times}× ${JSON.stringify(from)}, found ${found}`);
  return text.split(from).join(to);
}

/** The repo's clawgate.conf with only the addresses, ports and file paths of this machine. */
export function localEdgeConfig(opts: {
  upstream: string;
  httpsPort: number;
  healthPort: number;
  certDir: string;
}): string {
  let conf = readFileSync(path.join(DEPLOY_NGINX, "clawgate.conf"), "utf8");
  conf = replaceExactly(conf, "server runtime:8080;", `server ${opts.upstream};`);
  conf = replaceExactly(conf, "listen 443 ssl;", `listen 127.0.0.1:${opts.httpsPort} ssl;`);
  conf = replaceExactly(conf, "listen 127.0.0.1:8081;", `listen 127.0.0.1:${opts.healthPort};`);
  conf = replaceExactly(conf, "/etc/nginx/certs/", `${opts.certDir}/`, 2);
  conf = replaceExactly(conf, "include /etc/nginx/clawgate/", `include ${DEPLOY_NGINX}/`);
  return conf;
}

export async function startNginx({ upstream }: { upstream: string }): Promise<RunningNginx> {
  if (!existsSync(NGINX)) throw new Error(`no nginx at ${NGINX}: apt-get install nginx (or set NGINX_PATH)`);
  const dir = mkdtempSync(path.join(tmpdir(), "clawgate-nginx-"));
  // As root, nginx's workers run as an unprivileged user that must reach the temp folders.
  chmodSync(dir, 0o755);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      path.join(dir, "tls.key"),
      "-out",
      path.join(dir, "tls.crt"),
    ],
    { stdio: "ignore" },
  );
  const [httpsPort, healthPort] = [await freePort(), await freePort()];
  writeFileSync(path.join(dir, "clawgate.conf"), localEdgeConfig({ upstream, httpsPort, healthPort, certDir: dir }));
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((t) => `  ${t}_temp_path ${path.join(dir, t)};`)
    .join("\n");
  writeFileSync(
    path.join(dir, "nginx.conf"),
    `pid ${path.join(dir, "nginx.pid")};
error_log ${path.join(dir, "error.log")} info;
worker_processes 1;
events { worker_connections 512; }
http {
  access_log ${path.join(dir, "access.log")};
${temp}
  include ${path.join(dir, "clawgate.conf")};
}
`,
  );

  const errorLogFile = path.join(dir, "error.log");
  const child = spawn(
    NGINX,
    ["-p", `${dir}/`, "-e", errorLogFile, "-c", path.join(dir, "nginx.conf"), "-g", "daemon off;"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d));
  child.stderr.on("data", (d: Buffer) => (output += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const read = (file: string) => (existsSync(path.join(dir, file)) ? readFileSync(path.join(dir, file), "utf8") : "");

  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    await dispatcher.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const dispatcher = new Agent({
    connections: 8,
    connect: { ca: readFileSync(path.join(dir, "tls.crt")), servername: "localhost" },
  });
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${output}${read("error.log")}`);
        return (await fetch(`http://127.0.0.1:${healthPort}/healthz`)).ok || undefined;
      },
      15_000,
      "nginx",
    );
  } catch (error) {
    await close();
    throw error;
  }
  return {
    base: `https://127.0.0.1:${httpsPort}`,
    dispatcher,
    errorLog: () => read("error.log"),
    accessLog: () => read("access.log"),
    close,
  };
}
