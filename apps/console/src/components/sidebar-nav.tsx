"use client";
/**
 * The main navigation: a sidebar from `md` up; below it, a "Menu" button naming the current page
 * that opens the same links as a list (every page one tap away, nothing cut off at phone width).
 */
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useState } from "react";
import { NAV_ITEMS } from "./nav-items.ts";

export function SidebarNav() {
  const pathname = usePathname();
  const [open, setOpen] = useState(false);
  const isCurrent = (href: string) => pathname === href || pathname.startsWith(`${href}/`);
  const current = NAV_ITEMS.find((item) => isCurrent(item.href));
  return (
    <nav aria-label="Main" className="md:w-52 md:shrink-0">
      <button
        type="button"
        aria-expanded={open}
        aria-controls="main-nav-list"
        onClick={() => setOpen((o) => !o)}
        className="flex w-full items-center justify-between gap-2 rounded-md border border-slate-200 bg-white px-3 py-2 text-sm font-medium text-slate-800 shadow-sm md:hidden"
      >
        <span className="flex items-center gap-2">
          <svg aria-hidden viewBox="0 0 20 20" className="size-5 fill-slate-500">
            <path d="M3 5h14v2H3zM3 9h14v2H3zM3 13h14v2H3z" />
          </svg>
          Menu
        </span>
        {current && <span className="truncate text-slate-500">{current.label}</span>}
      </button>
      <ul
        id="main-nav-list"
        className={`${open ? "mt-2 grid" : "hidden"} grid-cols-2 gap-1 rounded-md border border-slate-200 bg-white p-1 shadow-sm md:mt-0 md:flex md:flex-col md:border-0 md:bg-transparent md:p-0 md:shadow-none`}
      >
        {NAV_ITEMS.map((item) => {
          const here = isCurrent(item.href);
          return (
            <li key={item.href}>
              <Link
                href={item.href}
                aria-current={here ? "page" : undefined}
                onClick={() => setOpen(false)}
                className={`block rounded-md px-3 py-2 text-sm font-medium ${
                  here ? "bg-indigo-50 text-indigo-700" : "text-slate-600 hover:bg-slate-100 hover:text-slate-900"
                }`}
              >
                {item.label}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
