import { z } from "zod";
import { buildIncidentReport, TIMELINE_KINDS } from "@clawgate/core/incident-report.ts";
import { listIncidents, reviewIncident, incidentReviewSchema } from "@clawgate/core/incidents.ts";
import { actorOf } from "../mutation.ts";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../trpc.ts";

const status = z.enum(["OPEN", "NEEDS_REVIEW", "REVIEWED"]);
const trigger = z.object({ kind: z.string(), summary: z.string(), startedAt: z.date(), endedAt: z.date().nullable() });
const incident = z.object({
  id: z.string(),
  title: z.string(),
  status,
  openedAt: z.date(),
  openedBy: z.string(),
  closedAt: z.date().nullable(),
  reviewedBy: z.string().nullable(),
  triggers: z.array(trigger),
});

export const incidentRouter = createTRPCRouter({
  /** Incidents, newest first; `UNREVIEWED`: open and needing review (the Overview). */
  list: viewerProcedure
    .input(z.object({ status: z.enum(["OPEN", "NEEDS_REVIEW", "REVIEWED", "UNREVIEWED"]).optional() }).optional())
    .output(z.array(incident))
    .query(({ ctx, input }) =>
      listIncidents(ctx.db, { ...(input?.status ? { status: input.status } : {}), limit: 200 }),
    ),

  /** One incident and the timeline of its window (the same report `clawgate incident report` writes). */
  report: viewerProcedure
    .input(z.object({ id: z.string().min(1).max(100) }))
    .output(
      z.object({
        incident: incident
          .omit({ triggers: true })
          .extend({ review: z.string().nullable(), reviewedAt: z.date().nullable() }),
        window: z.object({ from: z.date(), to: z.date() }),
        triggers: z.array(trigger.extend({ id: z.string(), refId: z.string().nullable(), actorName: z.string() })),
        entries: z.array(
          z.object({
            at: z.date(),
            kind: z.enum(TIMELINE_KINDS),
            actor: z.string(),
            summary: z.string(),
            ref: z.object({ type: z.string(), id: z.string() }).nullable(),
          }),
        ),
        truncated: z.boolean(),
      }),
    )
    .query(({ ctx, input }) => buildIncidentReport(ctx.db, input.id)),

  /** Records the review (who, what was learned) of an incident whose triggers ended: OPERATOR and ADMIN. */
  review: operatorProcedure
    .input(incidentReviewSchema.extend({ id: z.string().min(1).max(100) }))
    .output(z.object({ id: z.string(), status: z.literal("REVIEWED") }))
    .mutation(({ ctx, input }) => reviewIncident(ctx.db, actorOf(ctx), input.id, { review: input.review })),
});
