/** Server-rendered pages. Every interpolated value goes through `escapeHtml`. */

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Fractal ID example</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header><a href="/" class="brand">Fractal ID example app</a></header>
<main>
${body}
</main>
</body>
</html>`;
}

export function homePage(options: { signedIn: boolean; levels: string[]; frontendOrigin?: string }): string {
  const levelOptions = options.levels
    .map((l) => `<option value="${escapeHtml(l)}"${l === 'basic' ? ' selected' : ''}>${escapeHtml(l)}</option>`)
    .join('');
  return layout(
    'Home',
    `<h1>Verify your identity</h1>
<p>Sign in with Fractal ID to share your KYC status with this app.</p>
<form method="get" action="/auth/fractal" class="card">
  <label for="level">KYC level</label>
  <select id="level" name="level">${levelOptions}</select>
  <label for="wallet">Wallet address (optional)</label>
  <input id="wallet" name="wallet" autocomplete="off" placeholder="0x…">
  <button type="submit" id="verify">Verify with Fractal ID</button>
  <button type="button" id="verify-popup" class="secondary">Verify in a popup</button>
  <p id="popup-status" role="status" class="muted"></p>
${
  options.frontendOrigin
    ? `<button type="button" id="verify-embed" class="secondary" data-fractal-embed data-frontend-origin="${escapeHtml(options.frontendOrigin)}" data-callback="/auth/fractal/callback" data-container="#embed" data-status="#embed-status">Verify in this page</button>
  <p id="embed-status" role="status" class="muted"></p>`
    : ''
}
</form>
<div id="embed" class="embed"></div>
<script src="/popup.js" defer></script>
<script src="/fractal-embed.js" defer></script>
${options.signedIn ? '<p><a href="/profile">Your profile</a></p>' : ''}`,
  );
}

export interface ProfileView {
  uid: string;
  requestedScopes: string[];
  grantedScopes: string[];
  deniedScopes: string[];
  emails: string[];
  /** Status and credential may be missing: the docs' own examples omit them. */
  cases: Array<{ level: string; status?: string; credential?: string }>;
  /** Currency and verified may be missing (the docs' wallet example has neither `id` nor `verified`). */
  wallets: Array<{ address: string; currency?: string; verified?: boolean }>;
  /** The KYC decision for FRACTAL_KYC_LEVEL. */
  kyc?: { level: string; status: string };
}

export function profilePage(view: ProfileView): string {
  const list = (items: string[]) => (items.length ? `<ul>${items.map((i) => `<li><code>${escapeHtml(i)}</code></li>`).join('')}</ul>` : '<p>None.</p>');
  const cases = `<table id="cases"><thead><tr><th scope="col">Level</th><th scope="col">Status</th><th scope="col">Credential</th></tr></thead><tbody>${view.cases
    .map(
      (c) =>
        `<tr data-level="${escapeHtml(c.level)}"><td class="level">${escapeHtml(c.level)}</td><td class="status">${escapeHtml(c.status ?? '—')}</td><td class="credential">${escapeHtml(c.credential ?? '—')}</td></tr>`,
    )
    .join('')}</tbody></table>`;
  const wallets = view.wallets.length
    ? `<ul>${view.wallets.map((w) => `<li><code>${escapeHtml(w.address)}</code> (${escapeHtml(w.currency ?? 'unknown currency')}${w.verified === true ? ', verified' : ''})</li>`).join('')}</ul>`
    : '<p>No wallets.</p>';
  return layout(
    'Profile',
    `<h1>Your Fractal ID profile</h1>
<dl class="card">
  <dt>uid</dt><dd id="uid"><code>${escapeHtml(view.uid)}</code></dd>
  ${view.emails.length ? `<dt>Email</dt><dd>${escapeHtml(view.emails.join(', '))}</dd>` : ''}
</dl>
<section aria-labelledby="scopes-h"><h2 id="scopes-h">Scopes</h2>
<h3>Granted</h3><div id="granted-scopes">${list(view.grantedScopes)}</div>
<h3>Requested</h3>${list(view.requestedScopes)}
${view.deniedScopes.length ? `<h3>Not granted</h3><div id="denied-scopes">${list(view.deniedScopes)}</div>` : ''}
</section>
${view.kyc ? `<section aria-labelledby="kyc-h"><h2 id="kyc-h">KYC status</h2>
<p class="card">Level <code id="kyc-level">${escapeHtml(view.kyc.level)}</code>: <strong id="kyc-status" data-status="${escapeHtml(view.kyc.status)}">${escapeHtml(view.kyc.status)}</strong></p></section>` : ''}
<section aria-labelledby="cases-h"><h2 id="cases-h">Verification cases</h2>${cases}
<p id="live-status" role="status" class="muted"></p></section>
<section aria-labelledby="wallets-h"><h2 id="wallets-h">Wallets</h2>${wallets}</section>
<form method="post" action="/logout"><button type="submit" id="logout">Sign out</button></form>
<script src="/profile.js" defer></script>`,
  );
}

/**
 * The end of a popup sign-in: tell the opener (same origin only) and close. If the opener is gone,
 * the link still leads on.
 */
export function popupDonePage(returnTo: string): string {
  return layout(
    'Signed in',
    `<h1>Signed in</h1>
<p><a href="${escapeHtml(returnTo)}" id="continue">Continue</a></p>
<script>
  (function () {
    var message = { type: 'fractal:signed-in', returnTo: ${JSON.stringify(returnTo).replace(/</g, '\\u003c')} };
    if (window.opener && !window.opener.closed) {
      window.opener.postMessage(message, window.location.origin);
      window.close();
    }
  })();
</script>`,
  );
}

/** A failed sign-in in plain words, with a way to try again. */
export function errorPage(status: number, title: string, explanation: string): string {
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1>
<p role="alert">${escapeHtml(explanation)}</p>
<p><a href="/" class="button">Try again</a></p>
<p class="muted">HTTP ${escapeHtml(status)}</p>
<script>
  // Inside a sign-in popup: let the opener show the outcome too.
  if (window.opener && !window.opener.closed) {
    window.opener.postMessage({ type: 'fractal:failed', message: document.querySelector('[role=alert]').textContent }, window.location.origin);
  }
</script>`,
  );
}
