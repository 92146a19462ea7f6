// loadtest: draws the report page's interactive charts with uPlot from the JSON data block (#loadtest-data).
// Hover: the legend under a chart shows every series' value at that time. Drag: zoom (double-click resets).
// Click a legend entry: hide or show that series. window.loadtestCharts holds the uPlot instances by panel id.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("loadtest-data").textContent);
  var root = document.getElementById("explore");
  var charts = {};
  window.loadtestCharts = charts;

  function trim(v, digits) {
    return String(Number(v.toFixed(digits)));
  }
  // Axis ticks: one unit system (seconds/minutes/hours for time, ms/s/min for latency, k/M for counts).
  function human(v, unit) {
    if (v == null) return "";
    if (unit === "ms") {
      if (v < 1) return trim(v * 1000, 0) + " µs";
      if (v < 1000) return trim(v, 1) + " ms";
      if (v < 60000) return trim(v / 1000, 1) + " s";
      if (v < 3600000) return trim(v / 60000, 1) + " min";
      return trim(v / 3600000, 1) + " h";
    }
    var a = Math.abs(v);
    if (a >= 1e6) return trim(v / 1e6, 1) + "M";
    if (a >= 1e3) return trim(v / 1e3, 1) + "k";
    return trim(v, 2);
  }
  function clock(s) {
    if (s == null) return "";
    if (s < 120) return trim(s, 1) + " s";
    if (s < 7200 && s % 60 === 0) return trim(s / 60, 1) + " min";
    if (s < 7200) return Math.floor(s / 60) + " min " + trim(s % 60, 1) + " s";
    return trim(s / 3600, 2) + " h";
  }
  // Hover values: the raw metric value, in its own unit.
  function raw(v, unit) {
    if (v == null) return "–";
    return trim(v, 3) + (unit === "/s" ? "/s" : unit === "ms" ? " ms" : "");
  }
  function at(s) {
    if (s == null) return "–";
    var w = data.bucket_s > 1 ? " (" + data.bucket_s + " s bucket: min and max)" : "";
    return "second " + trim(s, 1) + w;
  }

  // Fault windows (amber) and the seconds the service was down (grey), behind the series.
  function fill(u, spans, colour) {
    var ctx = u.ctx;
    ctx.fillStyle = colour;
    for (var i = 0; i < spans.length; i++) {
      var x0 = Math.max(u.bbox.left, u.valToPos(spans[i][0], "x", true));
      var x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(spans[i][1], "x", true));
      if (x1 > x0 - 1) ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
    }
  }
  function bands(u) {
    u.ctx.save();
    fill(u, data.down, "rgba(85, 85, 85, 0.14)");
    fill(u, data.faults, "rgba(232, 162, 2, 0.2)");
    // A circuit breaker open or half-open: a teal strip along the top, as on the static charts.
    var open = data.breaker || [];
    u.ctx.fillStyle = "rgb(118, 183, 178)";
    for (var i = 0; i < open.length; i++) {
      var x0 = Math.max(u.bbox.left, u.valToPos(open[i][0], "x", true));
      var x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(open[i][1], "x", true));
      if (x1 > x0 - 1) u.ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), Math.max(4, u.bbox.height * 0.035));
    }
    u.ctx.restore();
  }
  // Round steps for the time axis: seconds, minutes, hours.
  var TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800];

  function draw(p, width) {
    var fig = document.createElement("figure");
    fig.className = "chart interactive";
    fig.id = "explore-" + p.id;
    root.appendChild(fig);
    var right = p.lines.some(function (l) { return l.right; });
    var series = [{ label: "time", value: function (u, v) { return at(v); } }];
    p.lines.forEach(function (l) {
      var unit = l.right ? p.right_unit : p.unit;
      series.push({
        label: l.label,
        stroke: l.color,
        width: 1.5,
        scale: l.right ? "right" : "y",
        spanGaps: false,
        points: p.log ? { show: true, size: 3, fill: l.color } : { show: false },
        value: function (u, v) { return raw(v, unit); }
      });
    });
    var axes = [
      { label: "scenario time", incrs: TIME_STEPS, values: function (u, vals) { return vals.map(clock); } },
      { label: p.unit, size: 70, values: function (u, vals) { return vals.map(function (v) { return human(v, p.unit); }); } }
    ];
    if (right) {
      axes.push({ side: 1, scale: "right", label: p.right_unit, grid: { show: false }, size: 60,
                  values: function (u, vals) { return vals.map(function (v) { return human(v, p.right_unit); }); } });
    }
    var scales = { x: { time: false }, y: p.log ? { distr: 3 } : { range: function (u, lo, hi) { return [0, hi > 0 ? hi * 1.05 : 1]; } } };
    if (right) scales.right = { range: function (u, lo, hi) { return [0, hi > 0 ? hi * 1.2 : 1]; } };
    var opts = {
      title: p.title,
      width: width,
      height: 300,
      scales: scales,
      axes: axes,
      series: series,
      cursor: { drag: { x: true, y: false }, sync: { key: "loadtest", setSeries: false } },
      hooks: { drawClear: [bands] }
    };
    var cols = [data.x].concat(p.lines.map(function (l) { return l.values; }));
    charts[p.id] = new uPlot(opts, cols, fig);
  }

  var width = Math.max(320, root.clientWidth - 20);
  data.panels.forEach(function (p) { draw(p, width); });
  window.addEventListener("resize", function () {
    var w = Math.max(320, root.clientWidth - 20);
    Object.keys(charts).forEach(function (id) { charts[id].setSize({ width: w, height: 300 }); });
  });
})();
