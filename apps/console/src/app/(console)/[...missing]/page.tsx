/** Any address no page matches: a 404 inside the console's frame (../not-found.tsx). */
import { notFound } from "next/navigation";

export default function MissingPage() {
  notFound();
}
