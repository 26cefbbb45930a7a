/**
 * `clawgate incident list`, `clawgate incident report ID --format md|json [--out FILE]` and
 * `clawgate incident review ID --text T`: the incidents of the console's Incidents page, from the
 * database only (works with the console down). The report is core's `buildIncidentReport`, the
 * same timeline the page shows.
 */
import { writeFile } from "node:fs/promises";
import { createDb } from "@clawgate/db";
import { commandFailed } from "./failed.ts";
import { envOrExit } from "./env-or-exit.ts";
import { cliActor } from "./safe-mode.ts";

export interface IncidentOptions {
  format?: string;
  out?: string;
  text?: string;
  all?: boolean;
}

const usage = (message: string): number => {
  console.error(`clawgate incident: ${message}`);
  return 2;
};

export async function incident(action: string, id: string | undefined, opts: IncidentOptions): Promise<number> {
  if (action !== "list" && action !== "report" && action !== "review")
    return usage(`expected list, report or review, got "${action}"`);
  if (action !== "list" && !id) return usage(`${action} needs the incident's id (see \`clawgate incident list\`)`);
  const format = opts.format ?? "md";
  if (action === "report" && format !== "md" && format !== "json")
    return usage(`--format must be md or json, got "${format}"`);
  if (action === "review" && !opts.text?.trim())
    return usage("review needs --text: what happened and what was learned");
  const { listIncidents, reviewIncident } = await import("@clawgate/core/incidents.ts");
  const { buildIncidentReport, incidentReportMarkdown, incidentStatusText } =
    await import("@clawgate/core/incident-report.ts");
  const env = envOrExit(["DATABASE_URL"]);
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2 });
  try {
    if (action === "list") {
      const items = await listIncidents(db, opts.all ? {} : { limit: 50 });
      if (items.length === 0) {
        console.log("No incidents.");
        return 0;
      }
      for (const i of items) {
        const to = i.closedAt ? i.closedAt.toISOString() : "now";
        console.log(`${i.id}  ${incidentStatusText(i.status)}  ${i.openedAt.toISOString()} to ${to}  ${i.title}`);
        for (const t of i.triggers) console.log(`    ${t.kind}: ${t.summary}`);
      }
      return 0;
    }
    if (action === "review") {
      await reviewIncident(db, cliActor("incident review"), id!, { review: opts.text! });
      console.log(`Incident ${id} reviewed.`);
      return 0;
    }
    const report = await buildIncidentReport(db, id!);
    const text = format === "json" ? `${JSON.stringify(report, null, 2)}\n` : incidentReportMarkdown(report);
    if (opts.out && opts.out !== "-") {
      await writeFile(opts.out, text, { mode: 0o600 });
      console.error(`Wrote the report of incident ${id} (${report.entries.length} events) to ${opts.out}.`);
    } else process.stdout.write(text);
    return 0;
  } catch (error) {
    return commandFailed(`incident ${action}`, error);
  } finally {
    await db.$disconnect();
  }
}
