/** The approvals list the page opens with (prefetched on the server, read by the client: same key). */
export const DEFAULT_LIST = { page: 1, pageSize: 20 } as const;
export const PAGE_SIZE = DEFAULT_LIST.pageSize;
