/**
 * JSON logs through pino. Serializers keep request/response logs to metadata: no headers, no
 * bodies, no query strings (DingTalk puts signatures there). Redaction is a second net.
 */
import pino, { type Logger } from "pino";

export type { Logger };

interface ReqLike {
  method?: string;
  routeOptions?: { url?: string };
}
interface ResLike {
  statusCode?: number;
}

export function createLogger(level: string = "info", destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "clawgate-bot" },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: {
        req: (req: ReqLike) => ({ method: req.method, route: req.routeOptions?.url }),
        res: (res: ResLike) => ({ status: res.statusCode }),
        err: pino.stdSerializers.err,
      },
      redact: {
        paths: ["headers", "body", "*.headers", "*.body", "*.authorization", "*.apiKey", "*.secret", "*.password"],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
