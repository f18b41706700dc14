/*
 * passport-fractal-id: the embedded Fractal ID journey (iframe), for the browser. Plain script, no
 * bundler: serve it with `fractalEmbedScript()` and load it with <script src="..." defer>.
 *
 * Follows the provider's docs (trustfractal/id-integration-docs,
 * user-integration/embedded-journey-iframe.md): the journey URL in an iframe with the documented
 * `allow` and `sandbox` attributes; at the end the frame posts a message to this window instead of
 * redirecting: `{code, state}` (plus `sub1`, a copy of the code), `{error}`, or `{open, target,
 * features}` (a link the page must open itself, e.g. a wallet app on mobile). The code and state
 * are then POSTed to the app's callback, where the strategy checks the state exactly like a
 * redirect callback.
 *
 * Declarative use: any element with `data-fractal-embed` opens the journey when clicked.
 *   data-frontend-origin  Fractal ID's FRONTEND origin (required), e.g. https://app.fractal.id
 *   data-start            where the frame starts sign-in (default: the button's form action and fields)
 *   data-callback         the callback URL, same origin as this page (default /auth/fractal/callback)
 *   data-container        CSS selector of the element to put the frame in (default: after the button)
 *   data-status           CSS selector of an element that shows errors (role="status" recommended)
 * Programmatic use: FractalEmbed.open({ frontendOrigin, start, callback, container, onError, onOpen }).
 */
(() => {
  const ALLOW = 'camera *; fullscreen *';
  const SANDBOX = 'allow-forms allow-modals allow-popups allow-popups-to-escape-sandbox allow-same-origin allow-scripts';
  const MAX_VALUE = 4096;
  // Schemes that would run code or read local data in this page's context if opened here.
  const REFUSED_SCHEMES = ['javascript:', 'data:', 'vbscript:', 'blob:', 'file:'];

  function exactOrigin(value) {
    try {
      const url = new URL(value);
      return url.origin === value ? value : null;
    } catch (_e) {
      return null;
    }
  }

  function shortString(value) {
    return typeof value === 'string' && value.length > 0 && value.length <= MAX_VALUE;
  }

  function postToCallback(callback, code, state) {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = callback;
    form.hidden = true;
    for (const [name, value] of [
      ['code', code],
      ['state', state],
    ]) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      input.value = value;
      form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
  }

  /**
   * Opens the journey in an iframe. Returns { frame, close() }. Throws on a wrong configuration
   * (no exact frontend origin, or a callback on another origin: the code must not leave this origin).
   */
  function open(options) {
    const frontendOrigin = exactOrigin(options.frontendOrigin);
    if (!frontendOrigin) throw new Error('FractalEmbed: frontendOrigin must be an origin such as https://app.fractal.id');
    const callback = new URL(options.callback || '/auth/fractal/callback', window.location.href);
    if (callback.origin !== window.location.origin) throw new Error('FractalEmbed: the callback must be on this page’s origin');
    if (!options.start) throw new Error('FractalEmbed: start (the URL that begins sign-in) is required');
    const onError = options.onError || (() => undefined);

    const frame = document.createElement('iframe');
    frame.setAttribute('allow', ALLOW);
    frame.setAttribute('sandbox', SANDBOX);
    frame.setAttribute('title', 'Fractal ID verification');
    frame.className = 'fractal-embed-frame';
    frame.src = new URL(options.start, window.location.href).href;
    let done = false;

    function close() {
      window.removeEventListener('message', onMessage);
      frame.remove();
    }

    function onMessage(event) {
      // Only the Fractal ID frame we opened: exact origin (as the docs' example checks) and source.
      if (done || event.origin !== frontendOrigin || event.source !== frame.contentWindow) return;
      const data = event.data;
      if (typeof data !== 'object' || data === null) return;
      if (data.error) {
        done = true;
        close();
        onError(data.error, data.error_description);
      } else if (data.open) {
        if (typeof data.open !== 'string') return;
        let link;
        try {
          link = new URL(data.open);
        } catch (_e) {
          return;
        }
        if (REFUSED_SCHEMES.indexOf(link.protocol) !== -1) return;
        if (options.onOpen) options.onOpen(link.href);
        window.open(link.href, typeof data.target === 'string' ? data.target : '_blank', typeof data.features === 'string' ? data.features : '');
      } else if (shortString(data.code) && shortString(data.state)) {
        done = true;
        close();
        postToCallback(callback.href, data.code, data.state);
      }
    }

    window.addEventListener('message', onMessage);
    const container = options.container || document.body;
    if (options.after) options.after.insertAdjacentElement('afterend', frame);
    else container.appendChild(frame);
    return { frame, close };
  }

  function startURL(element) {
    if (element.dataset.start) return element.dataset.start;
    const form = element.form;
    if (!form) return null;
    const params = new URLSearchParams(new FormData(form));
    const action = new URL(form.action, window.location.href);
    for (const [key, value] of params) action.searchParams.append(key, value);
    return action.href;
  }

  function bind(element) {
    element.addEventListener('click', (event) => {
      event.preventDefault();
      const status = element.dataset.status ? document.querySelector(element.dataset.status) : null;
      const previous = document.querySelector('iframe.fractal-embed-frame');
      if (previous) previous.remove();
      if (status) status.textContent = '';
      const container = element.dataset.container ? document.querySelector(element.dataset.container) : null;
      const options = {
        frontendOrigin: element.dataset.frontendOrigin,
        start: startURL(element),
        callback: element.dataset.callback,
        onError: (error, description) => {
          if (status) status.textContent = `Verification ended: ${typeof error === 'string' ? error : JSON.stringify(error)}${description ? ` (${description})` : ''}`;
        },
      };
      if (container) options.container = container;
      else options.after = element.form || element;
      try {
        open(options);
      } catch (err) {
        if (status) status.textContent = String(err.message);
      }
    });
  }

  window.FractalEmbed = { open, ALLOW, SANDBOX };
  const init = () => {
    for (const element of document.querySelectorAll('[data-fractal-embed]')) bind(element);
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
