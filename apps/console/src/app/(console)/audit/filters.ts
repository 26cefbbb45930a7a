/** Shared by the page (server prefetch of the first page) and the client view: the same input hydrates. */
export const AUDIT_PAGE_SIZE = 25;
