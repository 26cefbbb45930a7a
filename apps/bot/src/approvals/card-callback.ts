/**
 * A click on an approval card, from either channel (Stream topic /v1.0/card/instances/callback,
 * or HTTP POST /dingtalk/card, verified before this is called). DingTalk wants the answer within
 * 2 s: the vote is recorded in one transaction (core decideApprovalByCard, which also enqueues
 * the execution and the card update for everyone), and the answer carries a message for the
 * clicker alone. A refused click (unmapped user, self-approval, DESTRUCTIVE, already decided)
 * changes nothing and says why on the clicker's card.
 */
import { decideApprovalByCard } from "@clawgate/core/approvals.ts";
import { isDomainError } from "@clawgate/core/errors.ts";
import type { Db } from "@clawgate/db";
import { cardCallbackResponse, parseCardCallback } from "@clawgate/dingtalk";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";

export type CardCallbackResult =
  | { ok: true; response: object }
  /** Not a card action at all: 400 over HTTP, acknowledged (and dropped) over Stream. */
  | { ok: false; error: string };

export type CardCallbackHandler = (body: unknown, traceId: string) => Promise<CardCallbackResult>;

const ACTIONS: Record<string, boolean> = { approve: true, reject: false };

export function createCardCallbackHandler(deps: { db: Db; logger: Logger; metrics: Metrics }): CardCallbackHandler {
  const count = (outcome: string) => deps.metrics.approvalCardClicks.inc({ outcome });
  return async (body, traceId) => {
    const click = parseCardCallback(body);
    if (!click) {
      count("invalid");
      return { ok: false, error: "not a card action callback" };
    }
    const log = deps.logger.child({ traceId, approvalId: click.outTrackId, action: click.actionId });
    const approve = ACTIONS[click.actionId];
    if (approve === undefined) {
      count("unknown_action");
      return { ok: true, response: cardCallbackResponse(`Unknown action "${click.actionId}".`) };
    }
    try {
      const outcome = await decideApprovalByCard(deps.db, {
        approvalId: click.outTrackId,
        dingtalkUserId: click.userId,
        approve,
        traceId,
      });
      count(approve ? "approved" : "rejected");
      log.info({ status: outcome.request.status, approvals: outcome.approvals }, "approval card decision recorded");
      const message = !approve
        ? "You rejected this request; the requester is told."
        : outcome.final
          ? "You approved this request; it runs now."
          : `Your approval is recorded (${outcome.approvals} of ${outcome.required}).`;
      return { ok: true, response: cardCallbackResponse(message) };
    } catch (error) {
      if (!isDomainError(error)) throw error;
      count(error.reason ?? "refused");
      log.info({ reason: error.reason }, "approval card click refused");
      return { ok: true, response: cardCallbackResponse(error.message) };
    }
  };
}
