/* Overview: draws every [data-chart] element's points with LineChart. */
(function () {
  'use strict';
  document.querySelectorAll('[data-chart]').forEach(function (node) {
    var points;
    try { points = JSON.parse(node.getAttribute('data-chart')); } catch (err) { return; }
    window.LineChart.draw(node, points, {
      xLabel: node.getAttribute('data-x-label') || '',
      yLabel: node.getAttribute('data-y-label') || '',
      dots: node.getAttribute('data-dots') === 'true'
    });
  });
}());
