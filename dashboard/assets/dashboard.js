/* dsdash dashboard page script. Reads the JSON block written by dashboard/html.py.
 *
 * Every string from the data reaches the page through textContent or DOM properties, never
 * innerHTML: project names, reasons and error messages come from spoke accounts.
 * Charts are drawn one per task so a page with many charts never blocks input for long; when the
 * last one is drawn, #charts gets data-ready="true" (the browser tests wait for it).
 * The two tables show PAGE_SIZE rows at a time (see createPager); filter and sort see every row.
 *
 * The view lives in `state` and in the URL fragment (#project=..&range=7d&drill=..), so a copied
 * link reproduces it: every control writes the fragment with history.replaceState, and a
 * hashchange (a pasted link, the back button) reads it again and redraws.
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
  // Per-account values: two characters of this alphabet a value (LEVEL_ALPHABET in kpi_payload.py).
  var LEVEL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

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

  /* ---- The view: filters, time range and drill-down, mirrored in the URL fragment ---- */

  var STATE_KEYS = ["project", "environment", "account", "region", "range", "drill"];
  var state = {};
  var listeners = [];

  function readFragment() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    STATE_KEYS.forEach(function (key) { state[key] = params.get(key) || ""; });
  }

  function writeFragment() {
    var params = new URLSearchParams();
    STATE_KEYS.forEach(function (key) { if (state[key]) params.set(key, state[key]); });
    var text = params.toString();
    var url = window.location.pathname + window.location.search + (text ? "#" + text : "");
    window.history.replaceState(null, "", url);
  }

  function onStateChange(callback) { listeners.push(callback); }

  function setState(changes) {
    Object.keys(changes).forEach(function (key) { state[key] = changes[key]; });
    writeFragment();
    listeners.forEach(function (callback) { callback(); });
  }

  function spokeFilterActive() { return Boolean(state.account || state.region); }

  function accountMatches(account, region) {
    return (!state.account || account === state.account) && (!state.region || region === state.region);
  }

  function environmentMatches(project, environment) {
    return (!state.project || project === state.project) &&
      (!state.environment || environment === state.environment);
  }

  function setUpFilters() {
    var values = { project: {}, environment: {}, account: {}, region: {} };
    data.groups.forEach(function (group) {
      values.project[group.project] = true;
      values.environment[group.environment] = true;
      group.accounts.forEach(function (account) {
        values.account[account[0]] = true;
        if (account[3]) values.region[account[3]] = true;
      });
    });
    data.spokes.forEach(function (spoke) {
      values.project[spoke.project] = true;
      values.environment[spoke.environment] = true;
      values.account[spoke.account] = true;
      spoke.regions.forEach(function (region) { values.region[region] = true; });
    });
    var selects = document.querySelectorAll("select[data-filter]");
    selects.forEach(function (select) {
      var key = select.dataset.filter;
      Object.keys(values[key]).sort().forEach(function (value) {
        var option = element("option", null, value);
        option.value = value;
        select.appendChild(option);
      });
      select.addEventListener("change", function () {
        var change = {};
        change[key] = select.value;
        change.drill = "";
        setState(change);
      });
    });
    function show() {
      selects.forEach(function (select) {
        var wanted = state[select.dataset.filter];
        // A value the page does not hold (an edited link) would silently show everything.
        var listed = Array.prototype.some.call(select.options, function (option) {
          return option.value === wanted;
        });
        if (wanted && !listed) {
          var option = element("option", null, wanted + " (no data)");
          option.value = wanted;
          select.appendChild(option);
        }
        select.value = wanted;
      });
    }
    var reset = document.getElementById("filter-reset");
    if (reset) {
      reset.addEventListener("click", function () {
        setState({ project: "", environment: "", account: "", region: "", drill: "" });
      });
    }
    onStateChange(show);
    show();
  }

  /* ---- Latest values: one tbody per group, so sorting moves a row with its account rows. ----
   *
   * With an account or region chosen, a group keeps only those accounts' rows and its value is
   * combined from them alone (the `view` of the group), so the row never shows other accounts'
   * numbers.
   */

  function combine(values, combined) {
    var finite = values.filter(function (value) { return value !== null && value !== undefined; });
    if (finite.length === 0) return null;
    var total = finite.reduce(function (sum, value) { return sum + value; }, 0);
    return combined === "sum" ? total : total / finite.length;
  }

  function groupView(group) {
    var accounts = group.accounts.filter(function (account) {
      return accountMatches(account[0], account[3]);
    });
    if (accounts.length === 0) return null;
    var regions = {};
    accounts.forEach(function (account) { if (account[3]) regions[account[3]] = true; });
    return {
      group: group,
      accounts: accounts,
      regions: Object.keys(regions).sort().join(", "),
      value: accounts.length === group.accounts.length ? group.value :
        combine(accounts.map(function (account) { return account[1]; }), group.combined),
      extracted: Math.max.apply(null, accounts.map(function (account) { return account[2]; })),
    };
  }

  var latestRowsShown = [];

  function setUpLatestTable() {
    var table = document.getElementById("latest-table");
    if (!table) return;
    var groups = data.groups;
    var sortKey = null;
    var sortDescending = false;
    var filterInput = document.getElementById("latest-filter");
    var views = [];
    var bodies = {};

    groups.forEach(function (group, index) {
      group.index = index;
      group.haystack = [group.project, group.environment, group.metric, group.dimensions,
                        group.unit, group.regions.join(" ")].join(" ").toLowerCase();
    });

    function bodyFor(view) {
      var key = view.group.index;
      if (!bodies[key]) bodies[key] = buildGroupBody(view);
      return bodies[key];
    }

    function buildGroupBody(view) {
      var group = view.group;
      var body = element("tbody", "group");
      var row = element("tr", "group-row");
      var toggleCell = element("td");
      var toggle = element("button", "expand", "+");
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", "false");
      toggle.setAttribute("aria-label", "Show the " + view.accounts.length + " accounts of " +
                          group.project + " " + group.environment + " " + group.metric);
      toggle.addEventListener("click", function () { toggleAccounts(view, body, toggle); });
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
      row.appendChild(element("td", "region", view.regions));
      var valueCell = element("td", "number", formatNumber(view.value));
      valueCell.title = group.combined + " of " + view.accounts.length + " account(s)";
      row.appendChild(valueCell);
      row.appendChild(element("td", null, group.unit === "None" ? "" : group.unit));
      row.appendChild(element("td", "number",
                              view.accounts.length + (view.accounts.length > 1 ? " (" + group.combined + ")" : "")));
      row.appendChild(timeCell(view.extracted));
      body.appendChild(row);
      body.dataset.index = String(group.index);
      return body;
    }

    // Per-account rows are built on first expansion only: 15,000 of them would slow the load.
    function toggleAccounts(view, body, toggle) {
      var expanded = toggle.getAttribute("aria-expanded") === "true";
      if (!body.accountRows) {
        body.accountRows = view.accounts.map(function (account) {
          var row = element("tr", "account-row");
          row.appendChild(element("td"));
          row.appendChild(element("td", "account-id", account[0]));
          row.appendChild(element("td"));
          row.appendChild(element("td"));
          row.appendChild(element("td", "region", account[3]));
          row.appendChild(element("td", "number", formatNumber(account[1])));
          row.appendChild(element("td"));
          row.appendChild(element("td"));
          row.appendChild(timeCell(account[2]));
          body.appendChild(row);
          return row;
        });
      }
      body.accountRows.forEach(function (row) { row.hidden = expanded; });
      toggle.setAttribute("aria-expanded", expanded ? "false" : "true");
      toggle.textContent = expanded ? "+" : "\u2212";
    }

    function sortValue(view, key) {
      if (key === "accounts") return view.accounts.length;
      if (key === "metric") return view.group.metric + " " + view.group.dimensions;
      if (key === "value" || key === "extracted" || key === "regions") return view[key];
      return view.group[key];
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

    // Views depend on the account and region filters: rebuild them (and their rows) on change.
    function rebuildViews() {
      bodies = {};
      views = [];
      groups.forEach(function (group) {
        if (!environmentMatches(group.project, group.environment)) return;
        var view = groupView(group);
        if (view) views.push(view);
      });
      if (sortKey) views.sort(compare);
      applyFilter();
    }

    function applyFilter() {
      var query = filterInput.value;
      latestRowsShown = views.filter(function (view) {
        return matchesAll(view.group.haystack, query);
      });
      pager.show(latestRowsShown);
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
        views.sort(compare);
        applyFilter();
      });
    });
    onStateChange(rebuildViews);
    rebuildViews();
    setUpCsvDownload();
  }

  /* ---- CSV of the rows the table keeps (every page), as the table shows them ---- */

  var CSV_COLUMNS = ["project", "environment", "metric", "dimensions", "region", "value", "unit",
                     "accounts", "combined", "last_extraction_utc"];

  function csvCell(value) {
    var text = value === null || value === undefined ? "" : String(value);
    // A leading = + - @ would run as a formula in a spreadsheet: quote it as text.
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function latestCsv() {
    var lines = [CSV_COLUMNS.join(",")];
    latestRowsShown.forEach(function (view) {
      var group = view.group;
      lines.push([group.project, group.environment, group.metric, group.dimensions, view.regions,
                  view.value, group.unit === "None" ? "" : group.unit, view.accounts.length,
                  group.combined, isoUtc(view.extracted)].map(csvCell).join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }

  function setUpCsvDownload() {
    var button = document.getElementById("latest-csv");
    if (!button) return;
    button.addEventListener("click", function () {
      var blob = new Blob([latestCsv()], { type: "text/csv;charset=utf-8" });
      var link = element("a");
      link.href = URL.createObjectURL(blob);
      var parts = ["dsdash-latest", state.project, state.environment, state.account, state.region];
      link.download = parts.filter(Boolean).join("-").replace(/[^A-Za-z0-9._-]/g, "_") + ".csv";
      document.body.appendChild(link);
      link.click();
      document.body.removeChild(link);
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    });
  }

  /* ---- History charts ---- */

  var RANGE_PRESETS = [["1d", 86400, "Last 24 hours"], ["7d", 7 * 86400, "Last 7 days"],
                       ["14d", 14 * 86400, "Last 14 days"], ["30d", 30 * 86400, "Last 30 days"],
                       ["90d", 90 * 86400, "Last 90 days"]];

  function rangeBounds() {
    var embedded = data.range;
    if (!embedded) return null;
    for (var i = 0; i < RANGE_PRESETS.length; i++) {
      if (RANGE_PRESETS[i][0] === state.range) {
        return { start: Math.max(embedded.start, embedded.end - RANGE_PRESETS[i][1]),
                 end: embedded.end };
      }
    }
    return { start: embedded.start, end: embedded.end };
  }

  // The grid indexes of `x` (bucket starts, `step` wide) whose bucket overlaps the range.
  function indexesInRange(x, step, bounds) {
    var first = 0;
    while (first < x.length && x[first] + step <= bounds.start) first += 1;
    var last = x.length;
    while (last > first && x[last - 1] > bounds.end) last -= 1;
    return [first, last];
  }

  function setUpCharts() {
    var container = document.getElementById("charts");
    if (!container) return;
    var rangeSelect = document.getElementById("chart-range");
    var note = document.getElementById("chart-note");
    var drill = document.getElementById("drilldown");
    var charts = data.charts;
    var plots = [];
    var drillPlot = null;

    // Per-account lines arrive packed (dashboard/kpi_payload.py, _add_spoke_lines): unpack once.
    charts.forEach(function (chart) {
      if (!chart.spokeLines) return;
      chart.spokeLines = chart.spokeLines.map(function (packed) {
        var low = packed[3];
        var step = packed[4];
        var levels = packed[5];
        var y = [];
        for (var i = 0; i < levels.length; i += 2) {
          var high = LEVEL_ALPHABET.indexOf(levels.charAt(i));
          var rest = LEVEL_ALPHABET.indexOf(levels.charAt(i + 1));
          y.push(high < 0 || rest < 0 ? null : low + (high * 64 + rest) * step);
        }
        return {
          line: chart.series[packed[0]].label,
          account: data.spokeAccounts[packed[1]],
          region: data.spokeRegions[packed[2]],
          y: y,
        };
      });
    });
    var drawGeneration = 0;

    var embedded = data.range;
    var span = embedded ? embedded.end - embedded.start : 0;
    RANGE_PRESETS.forEach(function (preset) {
      if (preset[1] < span) {
        var option = element("option", null, preset[2]);
        option.value = preset[0];
        rangeSelect.appendChild(option);
      }
    });
    var allOption = element("option", null, embedded ?
      "Everything embedded (" + Math.round(span / 86400) + " days)" : "Everything embedded");
    allOption.value = "";
    rangeSelect.appendChild(allOption);
    rangeSelect.addEventListener("change", function () { setState({ range: rangeSelect.value }); });
    document.getElementById("drilldown-close").addEventListener("click", function () {
      setState({ drill: "" });
    });

    if (charts.length === 0) {
      container.appendChild(element("p", "notice",
        "No history in this period yet: values appear here after the spokes' next extractions."));
      container.dataset.ready = "true";
      return;
    }

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

    // The lines a chart draws under the filters: combined project/environment lines, or with an
    // account or region chosen, the matching spokes' own lines (a combined line would include
    // other accounts).
    function linesOf(chart) {
      var byLabel = {};
      chart.series.forEach(function (series) { byLabel[series.label] = series; });
      if (spokeFilterActive()) {
        return (chart.spokeLines || []).filter(function (line) {
          var parent = byLabel[line.line];
          return parent && environmentMatches(parent.project, parent.environment) &&
            accountMatches(line.account, line.region);
        }).map(function (line) {
          return { label: line.account + " " + line.region + " (" + line.line + ")",
                   environment: byLabel[line.line].environment, y: line.y, perSpoke: true };
        });
      }
      return chart.series.filter(function (series) {
        return environmentMatches(series.project, series.environment);
      });
    }

    function drawAll() {
      drawGeneration += 1;
      measuredWidth = null;
      var generation = drawGeneration;
      plots.forEach(function (plot) { plot.destroy(); });
      plots = [];
      container.textContent = "";
      container.dataset.ready = "false";
      rangeSelect.value = state.range;
      var bounds = rangeBounds();
      var crowded = 0;
      var queue = charts.map(function (chart) {
        var lines = linesOf(chart);
        var perSpoke = spokeFilterActive();
        var x = perSpoke ? (chart.spokeX || []) : chart.x;
        var step = perSpoke ? chart.spokeStep : chart.step;
        if (!perSpoke && !state.project && lines.length > MAX_LINES_FOR_ALL_PROJECTS) {
          // Above this many lines a chart is unreadable: show the first project until one is picked.
          var first = lines[0].project;
          lines = lines.filter(function (line) { return line.project === first; });
          crowded += 1;
        }
        return { chart: chart, lines: lines, x: x, step: step };
      });
      note.textContent = crowded ? crowded + " chart(s) show one project: all would draw more than " +
        MAX_LINES_FOR_ALL_PROJECTS + " lines; pick a project above." : "";
      function drawNext() {
        if (generation !== drawGeneration) return;
        var item = queue.shift();
        if (!item) {
          container.dataset.ready = "true";
          return;
        }
        drawChart(item, bounds);
        setTimeout(drawNext, 0);
      }
      drawNext();
      drawDrilldown(bounds);
    }

    // Columns for uPlot cut to the range; null when no line has a value in it.
    function columnsInRange(x, step, lines, bounds) {
      var cut = bounds ? indexesInRange(x, step, bounds) : [0, x.length];
      var columns = [x.slice(cut[0], cut[1])];
      var values = 0;
      lines.forEach(function (line) {
        var y = line.y.slice(cut[0], cut[1]);
        line.pointsInRange = y.filter(function (value) { return value !== null; }).length;
        values += line.pointsInRange;
        columns.push(y);
      });
      return values > 0 ? columns : null;
    }

    function plotOptions(title, lines, width, bounds, figure) {
      var colours = lines.map(function (_, index) { return PALETTE[index % PALETTE.length]; });
      var showLegend = lines.length <= MAX_LEGEND_LINES;
      figure.dataset.seriesColors = colours.join(",");
      return {
        width: width,
        height: 260,
        tzDate: function (seconds) { return uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"); },
        legend: { show: showLegend, live: showLegend },
        cursor: { drag: { x: true, y: false } },
        // The whole chosen range, so one point sits at its time rather than filling the chart.
        scales: { x: { time: true, range: bounds ? function () { return [bounds.start, bounds.end]; } : undefined } },
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
            // A lone value has no line to draw: show it as a point, never as nothing.
            points: { show: series.pointsInRange === 1, size: 9, fill: colours[index] },
            // uPlot asks for a value with null when the cursor is off the chart.
            value: function (plot, value) { return value === null ? "\u2014" : formatNumber(value); },
          };
        })),
        hooks: {
          draw: [function () { figure.dataset.drawn = "true"; }],
        },
      };
    }

    function emptyNotice(figure) {
      figure.dataset.empty = "true";
      figure.dataset.seriesCount = "0";
      figure.appendChild(element("p", "notice no-data", "No data in this range."));
    }

    // The line nearest a click on the plot: at the clicked time, the one drawn closest to the
    // clicked height. Read from the event itself, not from uPlot's cursor, which updates on the
    // next animation frame.
    function nearestLine(plot, event) {
      var index = plot.posToIdx(event.offsetX);
      if (index === null || index === undefined || index < 0) return -1;
      var best = -1;
      var bestDistance = Infinity;
      for (var s = 1; s < plot.series.length; s++) {
        var value = plot.data[s][index];
        if (value === null || value === undefined || !plot.series[s].show) continue;
        var distance = Math.abs(plot.valToPos(value, "y") - event.offsetY);
        if (distance < bestDistance) { bestDistance = distance; best = s - 1; }
      }
      return best;
    }

    function drawChart(item, bounds) {
      var chart = item.chart;
      var lines = item.lines;
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
      var columns = lines.length ? columnsInRange(item.x, item.step, lines, bounds) : null;
      if (!columns) {
        emptyNotice(figure);
        return;
      }
      var options = plotOptions(chart.metric, lines, sharedChartWidth(plotElement), bounds, figure);
      var plot = new uPlot(options, columns, plotElement);
      plots.push(plot);
      figure.dataset.seriesCount = String(lines.length);
      figure.setAttribute("aria-label", chart.metric + ": " + lines.length + " lines");
      if (lines.length > MAX_LEGEND_LINES) {
        figure.appendChild(element("p", "legend-note",
          lines.length + " lines; pick a project above to compare its environments."));
      }
      if (!chart.spokeLines || lines[0].perSpoke) return;
      // Drill-down: a click on a line, or the keyboard through this list.
      plot.over.addEventListener("click", function (event) {
        var index = nearestLine(plot, event);
        if (index >= 0) setState({ drill: chart.metric + "|" + lines[index].label });
      });
      plot.over.style.cursor = "pointer";
      var picker = element("div", "drill-picker toolbar");
      var selectId = "drill-" + chart.metric;
      var label = element("label", null, "Per-account chart of");
      label.htmlFor = selectId;
      var select = element("select", "drill-select");
      select.id = selectId;
      var none = element("option", null, "choose a line");
      none.value = "";
      select.appendChild(none);
      lines.forEach(function (line) {
        var option = element("option", null, line.label);
        option.value = line.label;
        select.appendChild(option);
      });
      select.addEventListener("change", function () {
        if (select.value) setState({ drill: chart.metric + "|" + select.value });
      });
      picker.appendChild(label);
      picker.appendChild(select);
      figure.appendChild(picker);
    }

    function drawDrilldown(bounds) {
      if (drillPlot) { drillPlot.destroy(); drillPlot = null; }
      var plotElement = document.getElementById("drilldown-plot");
      plotElement.textContent = "";
      var separator = state.drill.indexOf("|");
      var chart = null;
      if (separator > 0) {
        var metric = state.drill.slice(0, separator);
        chart = charts.filter(function (candidate) { return candidate.metric === metric; })[0];
      }
      if (!chart) {
        drill.hidden = true;
        drill.dataset.seriesCount = "0";
        return;
      }
      var lineLabel = state.drill.slice(separator + 1);
      var lines = (chart.spokeLines || []).filter(function (line) {
        return line.line === lineLabel;
      }).map(function (line) {
        return { label: line.account + " " + line.region, y: line.y, environment: "prod" };
      });
      drill.hidden = false;
      drill.dataset.metric = chart.metric;
      drill.dataset.line = lineLabel;
      document.getElementById("drilldown-heading").textContent =
        chart.metric + " of " + lineLabel + ", per account";
      var columns = lines.length ? columnsInRange(chart.spokeX, chart.spokeStep, lines, bounds) : null;
      if (!columns) {
        drill.dataset.seriesCount = "0";
        plotElement.appendChild(element("p", "notice no-data", "No data in this range."));
        return;
      }
      drill.dataset.seriesCount = String(lines.length);
      drillPlot = new uPlot(plotOptions(chart.metric, lines, chartWidth(plotElement), bounds, drill),
                            columns, plotElement);
      drill.scrollIntoView({ block: "nearest" });
    }

    window.addEventListener("resize", debounce(function () {
      plots.forEach(function (plot) {
        plot.setSize({ width: chartWidth(plot.root.parentNode), height: 260 });
      });
    }, 200));

    onStateChange(drawAll);
    drawAll();
  }

  /* ---- Spokes: freshness and enrollment ---- */

  function setUpSpokes() {
    var rowsElement = document.getElementById("spoke-rows");
    if (!rowsElement) return;
    var spokes = data.spokes;
    spokes.forEach(function (spoke) {
      spoke.haystack = [spoke.account, spoke.project, spoke.environment, spoke.state,
                        spoke.reason, spoke.stale ? "stale" : "fresh",
                        spoke.regions.join(" ")].join(" ").toLowerCase();
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
      row.appendChild(element("td", "region", spoke.regions.join(", ")));
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
        var regionMatches = !state.region || spoke.regions.indexOf(state.region) >= 0;
        return matchesAll(spoke.haystack, query) && (!problemsOnly.checked || spoke.problem) &&
          environmentMatches(spoke.project, spoke.environment) &&
          (!state.account || spoke.account === state.account) && regionMatches;
      }));
    }
    filterInput.addEventListener("input", debounce(applyFilter, 120));
    problemsOnly.addEventListener("change", applyFilter);
    onStateChange(applyFilter);
    applyFilter();
  }

  readFragment();
  window.addEventListener("hashchange", function () {
    readFragment();
    listeners.forEach(function (callback) { callback(); });
  });
  if (document.getElementById("filters")) setUpFilters();
  setUpLatestTable();
  setUpSpokes();
  setUpCharts();
})();
