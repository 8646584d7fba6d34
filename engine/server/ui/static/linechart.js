/* A small SVG line chart for the Program Engine dashboard (no dependencies).
 * LineChart.draw(container, points, options) replaces the container's content with a chart
 * of points [[x, y], ...]; options: xLabel, yLabel, dots (markers only, no line),
 * xRange ([from, to]: the least the x axis spans).
 * Text is set with textContent only, so labels from data can never become markup.
 * Licence: Apache-2.0, as the rest of the engine. */
(function (global) {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg';
  var W = 640, H = 240, L = 56, R = 12, T = 12, B = 34;

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function label(value) {
    if (!isFinite(value)) { return ''; }
    var abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) { return value.toExponential(2); }
    return String(Math.round(value * 1000) / 1000);
  }

  function text(parent, x, y, content, anchor) {
    var node = el('text', { x: x, y: y, 'text-anchor': anchor || 'start', 'class': 'chart-text' }, parent);
    node.textContent = content;
    return node;
  }

  function draw(container, points, options) {
    options = options || {};
    var clean = (points || []).filter(function (p) {
      return Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number' &&
        isFinite(p[0]) && isFinite(p[1]);
    });
    while (container.firstChild) { container.removeChild(container.firstChild); }
    container.setAttribute('data-points', String(clean.length));
    var svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, 'class': 'linechart',
                          role: 'presentation' }, container);
    if (!clean.length) {
      text(svg, W / 2, H / 2, 'no values yet', 'middle');
      return svg;
    }
    var xs = clean.map(function (p) { return p[0]; }), ys = clean.map(function (p) { return p[1]; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    if (Array.isArray(options.xRange) && options.xRange.length === 2) {
      x0 = Math.min(x0, options.xRange[0]);
      x1 = Math.max(x1, options.xRange[1]);
    }
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
    var sx = function (x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
    var sy = function (y) { return T + (1 - (y - y0) / (y1 - y0)) * (H - T - B); };
    el('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, 'class': 'chart-axis' }, svg);
    el('line', { x1: L, y1: T, x2: L, y2: H - B, 'class': 'chart-axis' }, svg);
    text(svg, L - 4, T + 10, label(y1), 'end');
    text(svg, L - 4, H - B, label(y0), 'end');
    text(svg, L, H - B + 16, label(x0), 'start');
    text(svg, W - R, H - B + 16, label(x1), 'end');
    if (options.xLabel) { text(svg, (L + W - R) / 2, H - 4, options.xLabel, 'middle'); }
    if (options.yLabel) { text(svg, L + 6, T + 10, options.yLabel, 'start'); }
    if (options.dots) {
      clean.forEach(function (p) { el('circle', { cx: sx(p[0]), cy: sy(p[1]), r: 3, 'class': 'chart-dot' }, svg); });
    } else {
      var d = clean.map(function (p, i) {
        return (i ? 'L' : 'M') + sx(p[0]).toFixed(1) + ' ' + sy(p[1]).toFixed(1);
      }).join(' ');
      el('path', { d: d, 'class': 'chart-line' }, svg);
      var last = clean[clean.length - 1];
      el('circle', { cx: sx(last[0]), cy: sy(last[1]), r: 3, 'class': 'chart-dot' }, svg);
    }
    return svg;
  }

  global.LineChart = { draw: draw };
}(window));
