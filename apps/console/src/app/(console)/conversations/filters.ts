import type { ConversationListItem } from "~/server/api/routers/conversation.ts";

/** The list's filters (shared by the page, which prefetches the first page, and the client table). */
export interface ConversationFilters {
  status?: ConversationListItem["status"];
  environment?: ConversationListItem["environment"];
  search?: string;
  page: number;
  pageSize: number;
}

/** The first page as the server prefetches it (same input, so it hydrates). */
export const INITIAL_FILTERS: ConversationFilters = { page: 1, pageSize: 20 };
