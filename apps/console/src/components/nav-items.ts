/** The console's pages, in sidebar order. A new page is one line here. */
export const NAV_ITEMS = [
  { href: "/skills", label: "Skills" },
] as const satisfies readonly { href: string; label: string }[];
