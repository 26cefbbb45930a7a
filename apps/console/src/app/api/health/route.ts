export const dynamic = "force-dynamic";

/** Liveness for the test harness and load balancers: the server is up and serving. */
export function GET() {
  return Response.json({ status: "ok" }, { headers: { "cache-control": "no-store" } });
}
