// Licence: Apache-2.0, as the rest of the engine.
/* Job page: follows the job's event stream. Each interim value is listed (as text) and every
 * numeric field of it (or the value itself, if it is a number) becomes a series of the chart,
 * plotted against the message number; the series to show is chosen in a list. When the job
 * ends, the page is read again to show its result, logs and metrics. */
(function () {
  'use strict';
  var section = document.getElementById('job');
  if (!section || !window.EventSource) { return; }
  var wasFinal = section.getAttribute('data-final') === 'true';
  var status = document.getElementById('job-status');
  var tbody = document.getElementById('interim');
  var count = document.getElementById('interim-count');
  var select = document.getElementById('series');
  var chart = document.getElementById('chart');
  var MAX_ROWS = 500, MAX_TEXT = 2000, MAX_SERIES = 50;
  var series = new Map();
  var chosen = null, pending = false;
  var listed = new Set();
  tbody.querySelectorAll('tr > td:first-child').forEach(function (cell) {
    listed.add(parseInt(cell.textContent, 10));
  });

  function redraw() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      window.LineChart.draw(chart, chosen ? series.get(chosen).points : [],
                            { xLabel: 'interim result #', yLabel: chosen || '' });
    });
  }

  function pick() {
    var best = null;
    series.forEach(function (entry, name) {
      if (best === null || (!entry.whole && series.get(best).whole)) { best = name; }
    });
    return best;
  }

  function add(name, x, y) {
    var entry = series.get(name);
    if (!entry) {
      if (series.size >= MAX_SERIES) { return; }
      entry = { points: [], whole: true };
      series.set(name, entry);
      var option = document.createElement('option');
      option.value = name;
      option.textContent = name;
      select.appendChild(option);
      select.hidden = false;
    }
    entry.points.push([x, y]);
    if (!Number.isInteger(y)) { entry.whole = false; }
  }

  function collect(value, x) {
    if (typeof value === 'number' && isFinite(value)) { add('value', x, value); return; }
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      Object.keys(value).forEach(function (key) {
        var item = value[key];
        if (typeof item === 'number' && isFinite(item)) { add(key, x, item); }
      });
    }
  }

  function list(seq, text) {
    if (listed.has(seq)) { return; }
    listed.add(seq);
    var row = document.createElement('tr');
    var number = document.createElement('td');
    number.textContent = String(seq);
    var cell = document.createElement('td');
    var code = document.createElement('code');
    code.textContent = text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) + ' ...' : text;
    cell.appendChild(code);
    row.appendChild(number);
    row.appendChild(cell);
    tbody.appendChild(row);
    while (tbody.rows.length > MAX_ROWS) { tbody.deleteRow(0); }
  }

  select.addEventListener('change', function () { chosen = select.value; redraw(); });

  var source = new EventSource(section.getAttribute('data-events'));
  source.addEventListener('interim', function (event) {
    var seq = parseInt(event.lastEventId, 10);
    var value;
    try { value = JSON.parse(event.data); } catch (err) { return; }
    collect(value, seq);
    list(seq, event.data);
    count.textContent = String(seq);
    if (status.textContent === 'QUEUED') { status.textContent = 'RUNNING'; }
    var best = pick();
    if (chosen === null || (best !== chosen && select.getAttribute('data-touched') !== 'true')) {
      chosen = best;
      select.value = chosen;
    }
    redraw();
  });
  select.addEventListener('change', function () { select.setAttribute('data-touched', 'true'); });
  source.addEventListener('final', function (event) {
    source.close();
    var info = {};
    try { info = JSON.parse(event.data); } catch (err) { /* keep the page as it is */ }
    if (typeof info.status === 'string') {
      status.textContent = info.status;
      status.className = 'status status-' + info.status.toLowerCase();
    }
    section.setAttribute('data-ended', 'true');
    if (!wasFinal) { window.location.reload(); }
  });
  source.addEventListener('gone', function () { source.close(); status.textContent = 'deleted'; });
  source.addEventListener('unauthorized', function () { source.close(); window.location.reload(); });
  redraw();
}());
