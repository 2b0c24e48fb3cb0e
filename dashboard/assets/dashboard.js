/* dsdash dashboard page script. Reads the JSON block written by dashboard/html.py.
 *
 * Every string from the data reaches the page through textContent or DOM properties, never
 * innerHTML: project names, reasons and error messages come from spoke accounts.
 * Charts are drawn one per task so a page with many charts never blocks input for long; when the
 * last one is drawn, #charts gets data-ready="true" (the browser tests wait for it).
 * The two tables show PAGE_SIZE rows at a time (see createPager); filter and sort see every row.
 */
(function () {
  "use strict";

  var dataElement = document.getElementById("dashboard-data");
  var data = JSON.parse(dataElement.textContent);
  var generatedAt = data.generatedAt;

  // Colour-blind-safe palette (Okabe-Ito and Tol), dark enough to read on white.
  var PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8F6A00", "#332288",
                 "#882255", "#117733", "#AA4499", "#44AA99", "#555555", "#E69F00"];
  // Above this many lines, a chart stops being readable: show one project at a time instead.
  var MAX_LINES_FOR_ALL_PROJECTS = 24;
  var MAX_LEGEND_LINES = 24;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatNumber(value) {
    if (value === null || value === undefined) return "n/a";
    var magnitude = Math.abs(value);
    var digits = magnitude >= 100 || Number.isInteger(value) ? 0 : magnitude >= 1 ? 2 : 4;
    return value.toLocaleString("en-US", { maximumFractionDigits: digits });
  }

  function formatCompact(value) {
    if (value === null || value === undefined) return "";
    return value.toLocaleString("en-US", { notation: "compact", maximumFractionDigits: 2 });
  }

  function isoUtc(epochSeconds) {
    return new Date(epochSeconds * 1000).toISOString().replace(".000Z", "Z");
  }

  // Relative to the generation time, not to now: the page is a snapshot and may be read later.
  function formatAge(epochSeconds) {
    if (epochSeconds === null || epochSeconds === undefined) return "never";
    var seconds = Math.max(0, generatedAt - epochSeconds);
    if (seconds < 90) return "just now";
    if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
    if (seconds < 172800) return Math.round(seconds / 3600) + " h ago";
    return Math.round(seconds / 86400) + " days ago";
  }

  function timeCell(epochSeconds) {
    var cell = element("td");
    if (epochSeconds === null || epochSeconds === undefined) {
      cell.textContent = "never";
      return cell;
    }
    var time = element("time", null, formatAge(epochSeconds));
    time.dateTime = isoUtc(epochSeconds);
    time.title = isoUtc(epochSeconds);
    cell.appendChild(time);
    return cell;
  }

  function debounce(callback, milliseconds) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(callback, milliseconds);
    };
  }

  function matchesAll(haystack, query) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    for (var i = 0; i < words.length; i++) {
      if (haystack.indexOf(words[i]) === -1) return false;
    }
    return true;
  }

  /* ---- Paging: only one page of a long table is in the document at a time. ----
   *
   * At 1,000 spokes the latest-values table has 3,000 groups and the spoke table 1,000 rows; with
   * all of them in the document every layout (each chart drawn causes one) walks them all, and the
   * charts took seconds to appear. Filtering and sorting work on the whole array in JS; only the
   * rows of the page shown are built (then kept, so an expanded group stays expanded) and
   * attached.
   */
  var PAGE_SIZE = 200;

  function createPager(options) {
    var nav = document.getElementById(options.idPrefix + "-pager");
    var previous = document.getElementById(options.idPrefix + "-previous");
    var next = document.getElementById(options.idPrefix + "-next");
    var status = document.getElementById(options.idPrefix + "-page");
    var countOutput = document.getElementById(options.idPrefix + "-count");
    var matching = [];
    var start = 0;
    var attached = [];

    function render() {
      attached.forEach(function (node) { options.container.removeChild(node); });
      var fragment = document.createDocumentFragment();
      attached = matching.slice(start, start + PAGE_SIZE).map(function (item) {
        var node = options.nodeFor(item);
        fragment.appendChild(node);
        return node;
      });
      options.container.appendChild(fragment);
      var end = start + attached.length;
      var paged = matching.length > PAGE_SIZE;
      var count = "Showing " + matching.length + " of " + options.total() + " " + options.noun;
      if (paged) {
        count += ": " + (start + 1) + "\u2013" + end + " on this page; the filter searches all";
      }
      countOutput.textContent = count;
      nav.hidden = !paged;
      status.textContent = "Rows " + (start + 1) + "\u2013" + end + " of " + matching.length;
      previous.disabled = start === 0;
      next.disabled = end >= matching.length;
    }

    function goTo(newStart) {
      start = Math.max(0, Math.min(newStart, matching.length - 1));
      start -= start % PAGE_SIZE;
      render();
      if (options.scroller) options.scroller.scrollTop = 0;
    }

    previous.addEventListener("click", function () { goTo(start - PAGE_SIZE); });
    next.addEventListener("click", function () { goTo(start + PAGE_SIZE); });

    return {
      // A new filter or order starts again from the first page.
      show: function (items) {
        matching = items;
        start = 0;
        render();
      },
    };
  }

  /* ---- Latest values: one tbody per group, so sorting moves a row with its account rows. ---- */

  function setUpLatestTable() {
    var table = document.getElementById("latest-table");
    if (!table) return;
    var groups = data.groups;
    var sortKey = null;
    var sortDescending = false;
    var filterInput = document.getElementById("latest-filter");

    groups.forEach(function (group, index) {
      group.index = index;
      group.haystack = [group.project, group.environment, group.metric, group.dimensions,
                        group.unit].join(" ").toLowerCase();
    });

    function bodyFor(group) {
      if (!group.body) group.body = buildGroupBody(group);
      return group.body;
    }

    function buildGroupBody(group) {
      var body = element("tbody", "group");
      var row = element("tr", "group-row");
      var toggleCell = element("td");
      var toggle = element("button", "expand", "+");
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", "false");
      toggle.setAttribute("aria-label", "Show the " + group.accounts.length + " accounts of " +
                          group.project + " " + group.environment + " " + group.metric);
      toggle.addEventListener("click", function () { toggleAccounts(group, body, toggle); });
      toggleCell.appendChild(toggle);
      row.appendChild(toggleCell);
      row.appendChild(element("td", null, group.project));
      row.appendChild(element("td", null, group.environment));
      var metricCell = element("td", null, group.metric);
      if (group.dimensions) {
        metricCell.appendChild(document.createElement("br"));
        metricCell.appendChild(element("span", "dimensions", group.dimensions));
      }
      row.appendChild(metricCell);
      var valueCell = element("td", "number", formatNumber(group.value));
      valueCell.title = group.combined + " of " + group.accounts.length + " account(s)";
      row.appendChild(valueCell);
      row.appendChild(element("td", null, group.unit === "None" ? "" : group.unit));
      row.appendChild(element("td", "number",
                              group.accounts.length + (group.accounts.length > 1 ? " (" + group.combined + ")" : "")));
      row.appendChild(timeCell(group.extracted));
      body.appendChild(row);
      body.dataset.index = String(group.index);
      return body;
    }

    // Per-account rows are built on first expansion only: 15,000 of them would slow the load.
    function toggleAccounts(group, body, toggle) {
      var expanded = toggle.getAttribute("aria-expanded") === "true";
      if (!group.accountRows) {
        group.accountRows = group.accounts.map(function (account) {
          var row = element("tr", "account-row");
          row.appendChild(element("td"));
          row.appendChild(element("td", "account-id", account[0]));
          row.appendChild(element("td"));
          row.appendChild(element("td"));
          row.appendChild(element("td", "number", formatNumber(account[1])));
          row.appendChild(element("td"));
          row.appendChild(element("td"));
          row.appendChild(timeCell(account[2]));
          body.appendChild(row);
          return row;
        });
      }
      group.accountRows.forEach(function (row) { row.hidden = expanded; });
      toggle.setAttribute("aria-expanded", expanded ? "false" : "true");
      toggle.textContent = expanded ? "+" : "\u2212";
    }

    function sortValue(group, key) {
      if (key === "accounts") return group.accounts.length;
      if (key === "metric") return group.metric + " " + group.dimensions;
      return group[key];
    }

    function compare(left, right) {
      var a = sortValue(left, sortKey);
      var b = sortValue(right, sortKey);
      var order;
      if (a === null || a === undefined) order = b === null || b === undefined ? 0 : 1;
      else if (b === null || b === undefined) order = -1;
      else if (typeof a === "number") order = a - b;
      else order = String(a).localeCompare(String(b));
      return sortDescending ? -order : order;
    }

    var pager = createPager({
      idPrefix: "latest",
      container: table,
      scroller: table.parentNode,
      noun: "series",
      nodeFor: bodyFor,
      total: function () { return groups.length; },
    });

    var ordered = groups;
    function applyFilter() {
      var query = filterInput.value;
      pager.show(ordered.filter(function (group) { return matchesAll(group.haystack, query); }));
    }
    filterInput.addEventListener("input", debounce(applyFilter, 120));

    table.querySelectorAll("th[data-sort-key]").forEach(function (header) {
      header.querySelector("button").addEventListener("click", function () {
        var key = header.dataset.sortKey;
        sortDescending = sortKey === key ? !sortDescending : false;
        sortKey = key;
        table.querySelectorAll("th[data-sort-key]").forEach(function (other) {
          other.setAttribute("aria-sort", other === header ?
                             (sortDescending ? "descending" : "ascending") : "none");
        });
        ordered = groups.slice().sort(compare);
        applyFilter();
      });
    });
    applyFilter();
  }

  /* ---- History charts ---- */

  function setUpCharts() {
    var container = document.getElementById("charts");
    if (!container) return;
    var select = document.getElementById("chart-project");
    var note = document.getElementById("chart-note");
    var charts = data.charts;
    var plots = [];
    var drawGeneration = 0;

    if (charts.length === 0) {
      container.appendChild(element("p", "notice",
        "No history in this period yet: values appear here after the spokes' next extractions."));
      container.dataset.ready = "true";
      return;
    }

    var projects = [];
    var seen = {};
    var maxLines = 0;
    charts.forEach(function (chart) {
      maxLines = Math.max(maxLines, chart.series.length);
      chart.series.forEach(function (series) {
        if (!seen[series.project]) {
          seen[series.project] = true;
          projects.push(series.project);
        }
      });
    });
    projects.sort();
    var allOption = element("option", null, "All projects");
    allOption.value = "*";
    select.appendChild(allOption);
    projects.forEach(function (project) {
      var option = element("option", null, project);
      option.value = project;
      select.appendChild(option);
    });
    select.value = maxLines > MAX_LINES_FOR_ALL_PROJECTS ? projects[0] : "*";
    select.addEventListener("change", drawAll);

    function chartWidth(plotElement) {
      return Math.max(280, Math.floor(plotElement.clientWidth || 480));
    }

    // Every chart in the grid has the same width: measure it once per drawing pass. Reading
    // clientWidth forces a layout of the page, and with thousands of table rows doing that per
    // chart made the charts take seconds to appear.
    var measuredWidth = null;
    function sharedChartWidth(plotElement) {
      if (measuredWidth === null) measuredWidth = chartWidth(plotElement);
      return measuredWidth;
    }

    function drawAll() {
      drawGeneration += 1;
      measuredWidth = null;
      var generation = drawGeneration;
      plots.forEach(function (plot) { plot.destroy(); });
      plots = [];
      container.textContent = "";
      container.dataset.ready = "false";
      var project = select.value;
      note.textContent = project === "*" ? "" :
        (maxLines > MAX_LINES_FOR_ALL_PROJECTS ?
          "Showing one project: all " + projects.length + " would draw up to " + maxLines +
          " lines a chart." : "");
      var queue = [];
      charts.forEach(function (chart) {
        var lines = chart.series.filter(function (series) {
          return project === "*" || series.project === project;
        });
        if (lines.length > 0) queue.push({ chart: chart, lines: lines });
      });
      function drawNext() {
        if (generation !== drawGeneration) return;
        var item = queue.shift();
        if (!item) {
          container.dataset.ready = "true";
          return;
        }
        drawChart(item.chart, item.lines);
        setTimeout(drawNext, 0);
      }
      drawNext();
    }

    function drawChart(chart, lines) {
      var figure = element("figure", "chart");
      figure.dataset.metric = chart.metric;
      var caption = element("figcaption");
      var title = element("h3", null, chart.metric);
      if (chart.unit && chart.unit !== "None") {
        title.appendChild(element("span", "chart-unit", " (" + chart.unit + ")"));
      }
      caption.appendChild(title);
      figure.appendChild(caption);
      var plotElement = element("div", "chart-plot");
      figure.appendChild(plotElement);
      container.appendChild(figure);

      var colours = lines.map(function (_, index) { return PALETTE[index % PALETTE.length]; });
      var showLegend = lines.length <= MAX_LEGEND_LINES;
      var options = {
        width: sharedChartWidth(plotElement),
        height: 260,
        tzDate: function (seconds) { return uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"); },
        legend: { show: showLegend, live: showLegend },
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: true } },
        axes: [
          { stroke: "#4f5964", grid: { stroke: "#e6e9ed" } },
          {
            stroke: "#4f5964",
            grid: { stroke: "#e6e9ed" },
            size: 60,
            values: function (plot, splits) { return splits.map(formatCompact); },
          },
        ],
        series: [{ label: "Time (UTC)" }].concat(lines.map(function (series, index) {
          return {
            label: series.label,
            stroke: colours[index],
            width: 2,
            dash: series.environment === "prod" ? undefined : [6, 4],
            spanGaps: true,
            points: { show: false },
            // uPlot asks for a value with null when the cursor is off the chart.
            value: function (plot, value) { return value === null ? "\u2014" : formatNumber(value); },
          };
        })),
        hooks: {
          draw: [function () { figure.dataset.drawn = "true"; }],
        },
      };
      var columns = [chart.x].concat(lines.map(function (series) { return series.y; }));
      var plot = new uPlot(options, columns, plotElement);
      plots.push(plot);
      figure.dataset.seriesCount = String(lines.length);
      figure.dataset.seriesColors = colours.join(",");
      figure.setAttribute("aria-label", chart.metric + ": " + lines.length + " lines");
      if (!showLegend) {
        figure.appendChild(element("p", "legend-note",
          lines.length + " lines; pick a project above to compare its environments."));
      }
    }

    window.addEventListener("resize", debounce(function () {
      plots.forEach(function (plot) {
        plot.setSize({ width: chartWidth(plot.root.parentNode), height: 260 });
      });
    }, 200));

    drawAll();
  }

  /* ---- Spokes: freshness and enrollment ---- */

  function setUpSpokes() {
    var rowsElement = document.getElementById("spoke-rows");
    if (!rowsElement) return;
    var spokes = data.spokes;
    spokes.forEach(function (spoke) {
      spoke.haystack = [spoke.account, spoke.project, spoke.environment, spoke.state,
                        spoke.reason, spoke.stale ? "stale" : "fresh"].join(" ").toLowerCase();
      spoke.problem = spoke.stale || spoke.state === "failed" || spoke.errors.length > 0;
    });

    function rowFor(spoke) {
      if (!spoke.row) spoke.row = buildSpokeRow(spoke);
      return spoke.row;
    }

    function buildSpokeRow(spoke) {
      var row = element("tr", spoke.stale ? "stale" : null);
      row.dataset.account = spoke.account;
      row.appendChild(element("td", null, spoke.account));
      row.appendChild(element("td", null, spoke.project));
      row.appendChild(element("td", null, spoke.environment));
      var stateCell = element("td");
      stateCell.appendChild(element("span", "badge badge-state-" + spoke.state, spoke.state));
      if (spoke.reason) {
        stateCell.appendChild(document.createElement("br"));
        stateCell.appendChild(element("span", "reason", spoke.reason));
      }
      row.appendChild(stateCell);
      row.appendChild(timeCell(spoke.lastSeen));
      var freshnessCell = element("td");
      if (spoke.stale) {
        freshnessCell.appendChild(element("span", "badge badge-stale", "Stale"));
      } else if (spoke.state === "enrolled") {
        freshnessCell.appendChild(element("span", "badge badge-fresh", "Fresh"));
      }
      row.appendChild(freshnessCell);
      var errorsCell = element("td");
      if (spoke.errors.length) {
        var list = element("ul", "errors");
        spoke.errors.forEach(function (error) {
          var item = element("li");
          item.appendChild(element("strong", null, error[0]));
          item.appendChild(document.createTextNode(" "));
          item.appendChild(element("span", "badge badge-error", error[1]));
          item.appendChild(document.createTextNode(" " + error[2]));
          list.appendChild(item);
        });
        errorsCell.appendChild(list);
      }
      row.appendChild(errorsCell);
      return row;
    }

    var filterInput = document.getElementById("spoke-filter");
    var problemsOnly = document.getElementById("spoke-problems-only");
    var pager = createPager({
      idPrefix: "spoke",
      container: rowsElement,
      scroller: rowsElement.parentNode.parentNode,
      noun: "spokes",
      nodeFor: rowFor,
      total: function () { return spokes.length; },
    });
    function applyFilter() {
      var query = filterInput.value;
      pager.show(spokes.filter(function (spoke) {
        return matchesAll(spoke.haystack, query) && (!problemsOnly.checked || spoke.problem);
      }));
    }
    filterInput.addEventListener("input", debounce(applyFilter, 120));
    problemsOnly.addEventListener("change", applyFilter);
    applyFilter();
  }

  setUpLatestTable();
  setUpSpokes();
  setUpCharts();
})();
