/**
 * Sending as the app robot through DingTalk's OpenAPI (shared/notes/dingtalk-protocol.md §5):
 * works after a message's sessionWebhook has expired.
 */
import { z } from "zod";
import { DingTalkApiError, isRecord, openApiError, postJson } from "./http.ts";
import { toOpenApiMessage, type OutboundMessage } from "./replies.ts";

/** Refresh this long before DingTalk's expiry so a token never dies mid-request. */
export const TOKEN_REFRESH_EARLY_MS = 5 * 60_000;

const THROTTLE_CODES = new Set(["send.too.fast", "send.byToken.tooFast"]);

const tokenResponseSchema = z.object({ accessToken: z.string().min(1), expireIn: z.number().positive() });

export interface DingTalkOpenApiOptions {
  appKey: string;
  appSecret: string;
  /** DINGTALK_API_BASE, e.g. https://api.dingtalk.com */
  baseUrl: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Clock for token expiry (tests). */
  now?: () => number;
}

export interface SendResult {
  processQueryKey?: string;
  invalidStaffIdList?: string[];
  flowControlledStaffIdList?: string[];
}

export class DingTalkOpenApi {
  readonly #opts: DingTalkOpenApiOptions;
  readonly #baseUrl: string;
  readonly #now: () => number;
  #token?: { value: string; expiresAt: number };
  #pending?: Promise<string>;

  constructor(opts: DingTalkOpenApiOptions) {
    this.#opts = opts;
    this.#baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.#now = opts.now ?? Date.now;
  }

  /** Cached; concurrent callers during a refresh share one token request. */
  accessToken(): Promise<string> {
    const token = this.#token;
    if (token && this.#now() < token.expiresAt - TOKEN_REFRESH_EARLY_MS) return Promise.resolve(token.value);
    this.#pending ??= this.#fetchToken().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async sendToGroup(args: {
    robotCode: string;
    openConversationId: string;
    message: OutboundMessage;
  }): Promise<SendResult> {
    const { msgKey, msgParam } = toOpenApiMessage(args.message);
    return this.#send("/v1.0/robot/groupMessages/send", {
      robotCode: args.robotCode,
      openConversationId: args.openConversationId,
      msgKey,
      msgParam,
    });
  }

  async sendToUsers(args: { robotCode: string; userIds: string[]; message: OutboundMessage }): Promise<SendResult> {
    const { msgKey, msgParam } = toOpenApiMessage(args.message);
    return this.#send("/v1.0/robot/oToMessages/batchSend", {
      robotCode: args.robotCode,
      userIds: args.userIds,
      msgKey,
      msgParam,
    });
  }

  /** Interactive cards (cards.ts): POST or PUT a card API path with the app's token. */
  async card(method: "POST" | "PUT", path: string, payload: object): Promise<unknown> {
    return this.#send(path, payload, method);
  }

  async #fetchToken(): Promise<string> {
    // Expiry counts from before the request: the conservative end.
    const requestedAt = this.#now();
    const body = await this.#post("/v1.0/oauth2/accessToken", {
      appKey: this.#opts.appKey,
      appSecret: this.#opts.appSecret,
    });
    const parsed = tokenResponseSchema.safeParse(body);
    if (!parsed.success)
      throw new DingTalkApiError("accessToken response has no accessToken/expireIn", {
        status: 200,
        code: "bad_response",
      });
    this.#token = { value: parsed.data.accessToken, expiresAt: requestedAt + parsed.data.expireIn * 1000 };
    return parsed.data.accessToken;
  }

  async #send(path: string, payload: object, method: "POST" | "PUT" = "POST"): Promise<SendResult> {
    const token = await this.accessToken();
    try {
      const body = await this.#post(path, payload, { "x-acs-dingtalk-access-token": token }, method);
      return isRecord(body) ? (body as SendResult) : {};
    } catch (error) {
      // A token DingTalk revoked early: drop it so the next send (the job's retry) fetches a new one.
      if (
        error instanceof DingTalkApiError &&
        (error.status === 401 || error.code === "InvalidAuthentication") &&
        this.#token?.value === token
      ) {
        this.#token = undefined;
      }
      throw error;
    }
  }

  async #post(
    path: string,
    payload: object,
    headers?: Record<string, string>,
    method: "POST" | "PUT" = "POST",
  ): Promise<unknown> {
    const res = await postJson(this.#opts.fetch ?? fetch, this.#baseUrl + path, payload, {
      headers,
      timeoutMs: this.#opts.timeoutMs,
      method,
    });
    if (res.status >= 200 && res.status < 300) return res.body;
    throw openApiError(path, res, THROTTLE_CODES);
  }
}
