// Live KYC updates: the server pushes webhook outcomes for this user over server-sent events,
// and the matching row of the cases table changes in place, without a reload.
(function () {
  var table = document.getElementById('cases');
  var live = document.getElementById('live-status');
  if (!window.EventSource || !table) return;
  var source = new EventSource('/profile/events');
  source.addEventListener('open', function () {
    if (live) live.textContent = 'Live: updates appear here as Fractal ID sends them.';
  });
  source.addEventListener('kyc', function (event) {
    var update = JSON.parse(event.data);
    var row = table.querySelector('tr[data-level="' + CSS.escape(update.level) + '"]');
    if (!row) {
      row = document.createElement('tr');
      row.setAttribute('data-level', update.level);
      ['level', 'status', 'credential'].forEach(function (name) {
        var cell = document.createElement('td');
        cell.className = name;
        row.appendChild(cell);
      });
      row.querySelector('.level').textContent = update.level;
      table.querySelector('tbody').appendChild(row);
    }
    row.querySelector('.status').textContent = update.status;
    if (update.credential) row.querySelector('.credential').textContent = update.credential;
    if (live) live.textContent = 'Updated: ' + update.level + ' is now ' + (update.credential || update.status) + '.';
    // The webhook already invalidated the server's cached decision: ask for the new one.
    var kyc = document.getElementById('kyc-status');
    if (kyc && window.fetch) {
      fetch('/api/kyc', { headers: { accept: 'application/json' } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (body) {
          if (body && typeof body.status === 'string') {
            kyc.textContent = body.status;
            kyc.setAttribute('data-status', body.status);
          }
        })
        .catch(function () {});
    }
  });
})();
