/**
 * Model endpoint reachability for `clawgate doctor`: `GET {baseUrl}/models` with the key read
 * from the env var the endpoint names. The key never appears in the output.
 */
export interface ModelTarget {
  name: string;
  baseUrl: string;
  apiKeyEnv: string | null;
}

export interface ModelProbe {
  ok: boolean;
  detail: string;
  fix?: string;
}

/** The URL as shown to a human: no userinfo, no query. */
export function displayUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = "";
    u.password = "";
    u.search = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "(invalid URL)";
  }
}

function errorCode(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError" || e.name === "AbortError") return "timed out";
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}

export async function probeModel(
  target: ModelTarget,
  readEnv: (name: string) => string | undefined,
  timeoutMs = 3_000,
): Promise<ModelProbe> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (target.apiKeyEnv) {
    const key = readEnv(target.apiKeyEnv);
    if (!key) {
      return {
        ok: false,
        detail: `API key env var ${target.apiKeyEnv} is not set`,
        fix: `export ${target.apiKeyEnv}=<key> in the runtime's environment`,
      };
    }
    headers.authorization = `Bearer ${key}`;
  }
  const url = `${target.baseUrl.replace(/\/+$/, "")}/models`;
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    if (res.ok) return { ok: true, detail: `HTTP ${res.status}` };
    const auth = res.status === 401 || res.status === 403;
    return {
      ok: false,
      detail: `HTTP ${res.status} from GET /models`,
      fix: auth
        ? `the endpoint rejected the key: check ${target.apiKeyEnv ?? "the endpoint's apiKeyEnv"}`
        : "check the base URL (it should end where /models is served, e.g. .../v1)",
    };
  } catch (error) {
    return {
      ok: false,
      detail: `cannot connect: ${errorCode(error)}`,
      fix: "start the model server or correct the endpoint's base URL",
    };
  }
}
