/** The console's pages, in sidebar order. A new page is one line here. */
export const NAV_ITEMS = [
  { href: "/overview", label: "Overview" },
  { href: "/conversations", label: "Conversations" },
  { href: "/skills", label: "Skills" },
  { href: "/tool-sources", label: "Tool sources" },
  { href: "/approvals", label: "Approvals" },
  { href: "/flags", label: "Feature flags" },
  { href: "/safe-mode", label: "Safe mode" },
  { href: "/incidents", label: "Incidents" },
  { href: "/models", label: "Models & routes" },
  { href: "/budgets", label: "Budgets & limits" },
  { href: "/users", label: "Users & roles" },
  { href: "/audit", label: "Audit log" },
  { href: "/retention", label: "Retention" },
] as const satisfies readonly { href: string; label: string }[];
