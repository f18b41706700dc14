import { UID_SCOPE, parseScope } from '../../provider';

/**
 * Server-rendered HTML of the frontend origin: the consent page and the error page. No
 * JavaScript, labelled controls, and stable names and ids for browser tests:
 * `decision` (approve/deny), `scope`, `user_type`, `email`, `wallet`.
 */

export interface ConsentPageInput {
  clientName: string;
  /** Requested scopes, in request order. */
  scopes: readonly string[];
  ensureWallet?: string;
  /** Embedded journey: the suggested wallet cannot be changed. */
  walletForced?: boolean;
  /** Hidden fields carrying the signed original request. */
  hidden: Readonly<Record<string, string>>;
  personOnlyScopes: ReadonlySet<string>;
  institutionOnlyScopes: ReadonlySet<string>;
  defaultEmail: string;
}

export function renderConsentPage(input: ConsentPageInput): string {
  const hidden = Object.entries(input.hidden)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n      ');
  const optional = input.scopes.filter((s) => s !== UID_SCOPE);
  const scopeItems = optional
    .map((scope, i) => {
      const id = `scope-${i}`;
      const restriction = input.personOnlyScopes.has(scope)
        ? ' <em>(persons only)</em>'
        : input.institutionOnlyScopes.has(scope)
          ? ' <em>(institutions only)</em>'
          : '';
      return `<li><input type="checkbox" name="scope" value="${escapeHtml(scope)}" id="${id}" checked>
          <label for="${id}"><code>${escapeHtml(scope)}</code>: ${escapeHtml(describeScope(scope))}${restriction}</label></li>`;
    })
    .join('\n        ');
  const name = escapeHtml(input.clientName);
  return page(
    `Authorize ${name}`,
    `<h1>Authorize <strong>${name}</strong> to use your Fractal ID account?</h1>
    <form method="post" action="/authorize/decision">
      ${hidden}
      <fieldset>
        <legend>${name} will be able to read</legend>
        <ul>
        <li><input type="checkbox" id="scope-uid" checked disabled>
          <label for="scope-uid"><code>${UID_SCOPE}</code>: ${escapeHtml(describeScope(UID_SCOPE))} (always granted)</label></li>
        ${scopeItems}
        </ul>
        <p class="note">Untick what you do not want to share.</p>
      </fieldset>
      <fieldset>
        <legend>Who are you?</legend>
        <p><input type="radio" name="user_type" value="person" id="user-type-person" checked>
          <label for="user-type-person">A person</label>
          <input type="radio" name="user_type" value="institution" id="user-type-institution">
          <label for="user-type-institution">An institution</label></p>
        <p><label for="email">Email (the same email is the same user)</label><br>
          <input type="email" name="email" id="email" value="${escapeHtml(input.defaultEmail)}" required autocomplete="email"></p>
      </fieldset>
      <fieldset>
        <legend>Wallet</legend>
        <p><label for="wallet">Wallet address</label><br>
          <input type="text" name="wallet" id="wallet" value="${escapeHtml(input.ensureWallet ?? '')}"${input.walletForced ? ' readonly' : ''} aria-describedby="wallet-note" spellcheck="false" autocomplete="off"></p>
        <p class="note" id="wallet-note">${
          input.walletForced
            ? 'The application requires this address.'
            : input.ensureWallet
            ? 'The application suggested this address. You may change it or leave the field empty.'
            : 'Optional. Leave empty to add no wallet.'
        }</p>
      </fieldset>
      <p><button type="submit" name="decision" value="approve" id="approve">Approve</button>
        <button type="submit" name="decision" value="deny" id="deny" formnovalidate>Deny</button></p>
    </form>`,
  );
}

/** RFC 6749 section 4.1.2.1: when the client or redirect URI is not trusted, tell the user, never redirect. */
export function renderErrorPage(error: string, description: string): string {
  return page(
    'Authorization error',
    `<h1>An error has occurred</h1>
    <p role="alert">${escapeHtml(description)}</p>
    <p>Error code: <code>${escapeHtml(error)}</code></p>`,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${title} · Fractal ID sandbox</title>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
    .banner { background: #fff3cd; border: 1px solid #c9a227; padding: .5rem 1rem; }
    fieldset { margin: 1rem 0; } ul { list-style: none; padding-left: 0; }
    .note { color: #444; font-size: .9rem; } button { font-size: 1rem; padding: .4rem 1rem; margin-right: .5rem; }
  </style>
</head>
<body>
  <main>
    <p class="banner" role="note">Local Fractal ID sandbox: a test emulator. Do not enter real personal data.</p>
    ${body}
  </main>
</body>
</html>
`;
}

function describeScope(scope: string): string {
  const parsed = parseScope(scope);
  switch (parsed.kind) {
    case 'uid':
      return 'your anonymised Fractal ID user id';
    case 'contact':
      return 'your email address or phone number';
    case 'level':
    case 'addon':
      return parsed.details
        ? `the personal details checked in the ${parsed.name} verification`
        : `the status of your ${parsed.name} verification (you will be asked to complete it)`;
    default:
      return 'an unknown permission';
  }
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
