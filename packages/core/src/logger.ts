/**
 * JSON logs through pino, the same setup for the runtime and the console. Serializers keep
 * request/response logs to metadata: no headers, no bodies, no query strings (DingTalk puts
 * signatures there). Redaction is a second net, and a third: every line, as written (message,
 * fields, error messages and stacks alike), has its phone numbers, emails, ID-card and bank-card
 * numbers masked (`maskPersonalData`).
 */
import pino, { type Logger } from "pino";
import { maskPersonalData } from "./redact.ts";

export type { Logger };

interface ReqLike {
  method?: string;
  routeOptions?: { url?: string };
}
interface ResLike {
  statusCode?: number;
}

export const REDACT_PATHS = [
  "headers",
  "body",
  "*.headers",
  "*.body",
  "*.authorization",
  "*.apiKey",
  "*.secret",
  "*.password",
];

export interface LoggerOptions {
  /** The `service` field of every line, e.g. "clawgate-bot". */
  service: string;
  level?: string;
  /** Where lines go (tests); stdout by default. */
  destination?: pino.DestinationStream;
}

export function createLogger({ service, level = "info", destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: {
        req: (req: ReqLike) => ({ method: req.method, route: req.routeOptions?.url }),
        res: (res: ResLike) => ({ status: res.statusCode }),
        err: pino.stdSerializers.err,
      },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      // The serialised line: the masks hold no quote or backslash, so the line stays valid JSON.
      hooks: { streamWrite: maskPersonalData },
    },
    destination,
  );
}

/**
 * An unexpected error as a log field: its type, the first line of its message (Prisma's
 * later lines quote the call's arguments, which may hold a message body) and its stack frames.
 */
export function errorFields(error: unknown): { type: string; message: string; code?: string; stack?: string[] } {
  if (!(error instanceof Error)) return { type: typeof error, message: String(error).split("\n")[0]!.slice(0, 300) };
  const code = (error as { code?: unknown }).code;
  const frames = error.stack?.split("\n").filter((l) => l.startsWith("    at "));
  return {
    type: error.name,
    message: (error.message.split("\n").find((l) => l.trim() !== "") ?? "").slice(0, 300),
    ...(typeof code === "string" ? { code } : {}),
    ...(frames?.length ? { stack: frames.map((f) => f.trim()) } : {}),
  };
}
