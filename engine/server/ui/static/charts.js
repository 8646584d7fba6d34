// Licence: Apache-2.0, as the rest of the engine.
/* Overview: draws every [data-chart] element's points with LineChart. */
(function () {
  'use strict';
  document.querySelectorAll('[data-chart]').forEach(function (node) {
    var points;
    try { points = JSON.parse(node.getAttribute('data-chart')); } catch (err) { return; }
    var range = null;
    try { range = JSON.parse(node.getAttribute('data-x-range') || 'null'); } catch (err) { range = null; }
    window.LineChart.draw(node, points, {
      xRange: range,
      xLabel: node.getAttribute('data-x-label') || '',
      yLabel: node.getAttribute('data-y-label') || '',
      dots: node.getAttribute('data-dots') === 'true'
    });
  });
}());
