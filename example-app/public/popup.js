// Popup sign-in (Fractal ID documents it): open the authorization in a small window and wait for
// the callback page to tell us, by postMessage from our own origin, that the session is ready.
// A blocked popup falls back to the full-page redirect.
(function () {
  var button = document.getElementById('verify-popup');
  if (!button) return;
  var form = button.form;
  var status = document.getElementById('popup-status');

  function signInUrl(popup) {
    var params = new URLSearchParams(new FormData(form));
    if (popup) params.set('popup', '1');
    return form.action + '?' + params.toString();
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== window.location.origin || !event.data) return;
    if (event.data.type === 'fractal:signed-in') {
      // Same-origin paths only: browsers read "//host" and "/\host" as another origin.
      const to = event.data.returnTo;
      const safe = typeof to === 'string' && to.charAt(0) === '/' && to.charAt(1) !== '/' && to.indexOf('\\') === -1;
      window.location.assign(safe ? to : '/profile');
    } else if (event.data.type === 'fractal:failed') {
      status.textContent = String(event.data.message || 'Sign-in failed.');
    }
  });

  button.addEventListener('click', function () {
    var popup = window.open(signInUrl(true), 'fractal', 'width=480,height=700,top=150,left=150');
    if (!popup) {
      window.location.assign(signInUrl(false));
      return;
    }
    status.textContent = 'Waiting for the Fractal ID window…';
  });
})();
