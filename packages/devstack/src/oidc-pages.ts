/** HTML of the demo identity provider's own pages (login form, messages). No scripts. */
const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

const STYLE = `
*{box-sizing:border-box}body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f1f5f9;color:#0f172a;
font:15px/1.5 ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:min(92vw,380px);background:#fff;border:1px solid #e2e8f0;border-radius:12px;padding:28px;box-shadow:0 1px 3px rgba(15,23,42,.08)}
h1{font-size:20px;margin:0 0 4px}p.sub{margin:0 0 20px;color:#475569;font-size:14px}
label{display:block;font-weight:600;font-size:13px;margin:14px 0 4px}
input{width:100%;padding:9px 11px;border:1px solid #cbd5e1;border-radius:8px;font:inherit}
input:focus,button:focus{outline:3px solid #6366f1;outline-offset:1px}
button{margin-top:20px;width:100%;padding:10px;border:0;border-radius:8px;background:#4f46e5;color:#fff;font:inherit;font-weight:600;cursor:pointer}
button:hover{background:#4338ca}
.error{margin:0 0 8px;padding:9px 11px;border-radius:8px;background:#fef2f2;color:#991b1b;border:1px solid #fecaca;font-size:14px}
.hint{margin:20px 0 0;font-size:13px;color:#475569;overflow-wrap:anywhere}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escape(title)} · Clawgate demo IdP</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

export function loginPage(opts: { uid: string; hint?: string; email?: string; error?: string }): string {
  const error = opts.error ? `<p class="error" role="alert">${escape(opts.error)}</p>` : "";
  const hint = opts.hint ? `<p class="hint">${escape(opts.hint)}</p>` : "";
  // After a failed attempt the email is kept: the password is what needs typing again.
  const focusEmail = opts.email ? "" : " autofocus";
  const focusPassword = opts.email ? " autofocus" : "";
  return page(
    "Sign in",
    `<h1>Sign in</h1><p class="sub">Clawgate demo identity provider</p>${error}
<form method="post" action="/interaction/${encodeURIComponent(opts.uid)}/login" autocomplete="off">
<label for="email">Email</label><input id="email" name="email" type="email" required${focusEmail} value="${escape(opts.email ?? "")}">
<label for="password">Password</label><input id="password" name="password" type="password" required${focusPassword}>
<button type="submit">Sign in</button></form>${hint}`,
  );
}

export function messagePage(title: string, message: string): string {
  return page(title, `<h1>${escape(title)}</h1><p class="sub">${escape(message)}</p>`);
}
