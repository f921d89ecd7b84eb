/**
 * The dashboard's one page: a static shell with no data in it (everything shown is put in
 * by app.js through text nodes, so no record can inject markup), its stylesheet and script
 * served by keel itself as separate files so a strict Content-Security-Policy can forbid
 * every inline script and every other origin. No build step, no CDN, no web fonts.
 */

/** Sent with every dashboard answer: only this server's own script, styles and requests. */
export const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

export const pageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>keel fleet</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header class="top">
  <h1>keel fleet</h1>
  <span id="live" class="live" aria-live="polite">connecting…</span>
  <details id="operator">
    <summary>Operator</summary>
    <label>Token <input id="token" type="password" autocomplete="off" spellcheck="false"></label>
    <button id="token-save" type="button">Use</button>
    <small>Kept in this tab only. With a client certificate, leave it empty.</small>
  </details>
</header>
<div id="banner" class="banner" role="alert" hidden></div>
<main id="groups"><p id="waiting" class="muted">Waiting for the first view…</p></main>
<dialog id="confirm">
  <form id="confirm-form" method="dialog">
    <h2 id="confirm-title"></h2>
    <p id="confirm-text"></p>
    <label id="confirm-reason-label">Reason <input id="confirm-reason" maxlength="500" autocomplete="off"></label>
    <p id="confirm-error" class="error" role="alert"></p>
    <div class="buttons">
      <button id="confirm-cancel" type="button">Cancel</button>
      <button id="confirm-ok" type="submit" class="danger"></button>
    </div>
  </form>
</dialog>
<noscript><p>This page needs JavaScript; the same data is at <a href="/api/v1/view">/api/v1/view</a>.</p></noscript>
<script src="/app.js" defer></script>
</body>
</html>
`;
