/** The DingTalk callback the ack benchmarks send, and the runtime's own ack histogram. */

/** A robot message as DingTalk posts it (HTTP mode); `msgId` must be fresh for a real insert. */
export function robotMessage(msgId: string, robotCode: string, conversationId = "cid-bench-group") {
  const now = Date.now();
  return {
    msgtype: "text",
    text: { content: " benchmark message" },
    msgId,
    createAt: now,
    conversationType: "2",
    conversationId,
    conversationTitle: "Bench group",
    senderId: "$:LWCP_v1:$bench",
    senderStaffId: "bench-user",
    senderNick: "Bench",
    chatbotUserId: "$:LWCP_v1:$robot",
    robotCode,
    isInAtList: true,
    sessionWebhook: "https://oapi.dingtalk.com/robot/sendBySession?session=bench",
    sessionWebhookExpiredTime: now + 90 * 60_000,
  };
}

export type Buckets = Map<number, number>; // upper bound (s) -> cumulative count

/** The runtimes of a benchmark serve /metrics on their own port to this bearer token (startRuntime's env). */
export const BENCH_METRICS_TOKEN = "clawgate-bench-metrics-token";
export const BENCH_METRICS_ENV = { METRICS_PORT: "off", METRICS_TOKEN: BENCH_METRICS_TOKEN };
/** GET a runtime's /metrics text with the benchmarks' token. */
export const scrapeMetrics = (metricsUrl: string, init: RequestInit = {}) =>
  fetch(metricsUrl, { ...init, headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` } });

/** The ack route's cumulative histogram buckets from the runtime's /metrics. */
export async function ackBuckets(metricsUrl: string): Promise<Buckets> {
  const text = await (await scrapeMetrics(metricsUrl)).text();
  const buckets: Buckets = new Map();
  for (const line of text.split("\n")) {
    if (
      !line.startsWith("clawgate_http_request_duration_seconds_bucket{") ||
      !line.includes('route="/dingtalk/robot"') ||
      !line.includes('status="200"')
    )
      continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (le)
      buckets.set(
        le === "+Inf" ? Infinity : Number(le),
        (buckets.get(le === "+Inf" ? Infinity : Number(le)) ?? 0) + value,
      );
  }
  return buckets;
}

export interface ServerSide {
  p50: number;
  p99: number;
  within5: number;
  within25: number;
  count: number;
}

/** Quantiles of the requests observed between two scrapes (linear within a bucket, in ms). */
export function serverSide(before: Buckets, after: Buckets): ServerSide {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const cum = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = cum.at(-1) ?? 0;
  const quantile = (q: number): number => {
    const target = q * total;
    for (let i = 0; i < bounds.length; i++) {
      if ((cum[i] ?? 0) >= target) {
        const lo = i === 0 ? 0 : bounds[i - 1]!;
        const hi = Number.isFinite(bounds[i]!) ? bounds[i]! : lo;
        const below = i === 0 ? 0 : cum[i - 1]!;
        const inBucket = (cum[i] ?? 0) - below;
        return (lo + (inBucket ? ((target - below) / inBucket) * (hi - lo) : 0)) * 1000;
      }
    }
    return NaN;
  };
  const within = (limit: number) => (total ? (cum[bounds.indexOf(limit)] ?? 0) / total : 0);
  return { p50: quantile(0.5), p99: quantile(0.99), within5: within(0.005), within25: within(0.025), count: total };
}
