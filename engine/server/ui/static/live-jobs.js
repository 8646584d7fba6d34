// Licence: Apache-2.0, as the rest of the engine.
/* Jobs list: re-reads its rows from the server every few seconds (the rows are rendered and
 * escaped there; they are parsed as a document and moved in, never run), and applies a new
 * status filter as soon as it is chosen. */
(function () {
  'use strict';
  var table = document.getElementById('jobs');
  var filter = document.getElementById('jobs-filter');
  var stamp = document.getElementById('refreshed');
  if (!table) { return; }
  if (filter) {
    var select = filter.querySelector('select[name="status"]');
    if (select) { select.addEventListener('change', function () { filter.submit(); }); }
  }
  var url = table.getAttribute('data-refresh-url');
  var seconds = parseFloat(table.getAttribute('data-refresh-seconds')) || 5;
  var busy = false;
  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error('status ' + response.status); }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString('<table>' + html + '</table>', 'text/html');
        var rows = doc.querySelector('tbody');
        var old = document.getElementById('job-rows');
        if (rows && old) {
          old.replaceWith(document.adoptNode(rows));
          if (stamp) { stamp.textContent = 'updated ' + new Date().toLocaleTimeString(); }
        }
      })
      .catch(function () { if (stamp) { stamp.textContent = 'not updated (reload the page)'; } })
      .then(function () { busy = false; });
  }
  window.setInterval(refresh, seconds * 1000);
}());
