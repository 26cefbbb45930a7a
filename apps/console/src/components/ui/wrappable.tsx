/**
 * Wrappable: long machine text (URLs, env var names, ids) that may wrap only after its
 * separators (`/`, `.`, `_`, `-`, `:`, `?`, `&`, `=`, `@`), never mid-word: `<wbr>` after each.
 *
 *   <Wrappable text="https://models.example.internal/v1" />   // breaks as "https://models." "example." ...
 */
import { Fragment } from "react";

const SEPARATOR = /(?<=[/._\-:?&=@])/;

export function Wrappable({ text }: { text: string }) {
  const parts = text.split(SEPARATOR);
  return (
    <>
      {parts.map((part, i) => (
        <Fragment key={i}>
          {part}
          {i < parts.length - 1 && <wbr />}
        </Fragment>
      ))}
    </>
  );
}
