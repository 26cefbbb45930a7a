import type { UserListItem } from "~/server/api/routers/user.ts";

/** The list's filters (shared by the page, which prefetches the first page, and the client table). */
export interface UserFilters {
  search?: string;
  role?: UserListItem["role"];
  page: number;
  pageSize: number;
}

export const INITIAL_USER_FILTERS: UserFilters = { page: 1, pageSize: 25 };
