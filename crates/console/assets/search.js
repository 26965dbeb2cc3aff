// The search page: query box (search, or search | SQL), time range, histogram (click a bar to
// zoom), results with highlighted terms and paging, context of a log, SQL table and chart.

import { request } from './api.js';
import { histogram, sqlChart } from './chart.js';
import { busy, errorBox, fill, fmtTime, fromLocalInput, h, loading, nextFrame, nowSeconds, select, toLocalInput } from './ui.js';

const RANGES = [['900', 'Last 15 minutes'], ['3600', 'Last 1 hour'], ['86400', 'Last 1 day'], ['custom', 'Custom']];
const PAGE_SIZES = [20, 50, 100];
const SQL_PAGE = 50;
const CHART_MAX_ROWS = 500;
/** Fields every row has that the content column does not repeat. */
const META_FIELDS = new Set(['__time__', '__time_ns_part__', '__topic__', '__source__', '__pack_meta__', '__tag__:__pack_id__', '__index_number__']);

/** Whether a query has an SQL part (as the SDK decides: a bar followed by SELECT). */
export const isSql = (query) => /\|.*\bselect\b/is.test(query);

/**
 * The words a search matches, for highlighting: values of `key:value` / `key=value`, bare words
 * and quoted phrases, without operators, `*` and the SQL part.
 */
export function searchTerms(query) {
  const search = splitSql(query);
  const tokens = search.match(/"(?:[^"\\]|\\.)*"|[^\s()]+/g) || [];
  const terms = [];
  for (let token of tokens) {
    if (/^(and|or|not)$/i.test(token)) continue;
    const pair = token.match(/^[^":=<>]+(?::|=|>=|<=|>|<)(.*)$/);
    if (pair) token = pair[1];
    if (/^[<>=]/.test(token)) continue;
    token = token.replace(/^"|"$/g, '').replace(/\\(.)/g, '$1').replace(/\*+$/, '');
    if (token && token !== '*') terms.push(token);
  }
  return [...new Set(terms)].filter(Boolean);
}

function splitSql(query) {
  let quoted = false;
  for (let i = 0; i < query.length; i++) {
    const c = query[i];
    if (c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === '|' && !quoted) return query.slice(0, i);
  }
  return query;
}

/** A text node list with every match of `pattern` in a `<mark>`. */
export function highlighted(text, pattern) {
  if (!pattern) return [text];
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (!match[0]) continue;
    parts.push(text.slice(last, match.index), h('mark', {}, match[0]));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

function termPattern(terms) {
  if (!terms.length) return null;
  const escaped = terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).sort((a, b) => b.length - a.length);
  return new RegExp(escaped.join('|'), 'gi');
}

export function searchPage(app) {
  const state = { logstore: app.logstore, page: 0, pageSize: 20, range: null, query: '', total: 0, pattern: null };
  const logstoreSelect = select({ id: 'logstore', 'aria-label': 'logstore' }, app.logstores, app.logstore);
  const queryInput = h('input', { id: 'query', type: 'search', placeholder: 'status:500 and GET   or   * | select status, count(*) as n group by status', autocomplete: 'off', spellcheck: false });
  const rangeSelect = select({ id: 'range', 'aria-label': 'time range' }, RANGES, '900');
  const fromInput = h('input', { id: 'from', type: 'datetime-local', step: 1, 'aria-label': 'from' });
  const toInput = h('input', { id: 'to', type: 'datetime-local', step: 1, 'aria-label': 'to' });
  const custom = h('span', { class: 'custom', hidden: true }, fromInput, ' – ', toInput);
  const runButton = h('button', { id: 'run', type: 'submit', class: 'primary' }, 'Search');
  const queryError = h('div', { id: 'query-error', class: 'query-error', 'aria-live': 'polite' });
  const summary = h('div', { id: 'summary', class: 'summary' });
  const histogramBox = h('div', { id: 'histogram', class: 'panel' });
  const results = h('div', { id: 'results' });
  const pager = h('div', { id: 'pager', class: 'pager' });
  const contextBox = h('div', { id: 'context', class: 'drawer', hidden: true });

  rangeSelect.addEventListener('change', () => {
    custom.hidden = rangeSelect.value !== 'custom';
    if (rangeSelect.value === 'custom' && !fromInput.value) {
      const now = nowSeconds();
      fromInput.value = toLocalInput(now - 3600);
      toInput.value = toLocalInput(now);
    }
  });
  logstoreSelect.addEventListener('change', () => {
    state.logstore = logstoreSelect.value;
    app.setLogstore(state.logstore);
  });

  const form = h(
    'form',
    { class: 'query-bar', onsubmit: (event) => { event.preventDefault(); busy(runButton, () => run()); } },
    logstoreSelect, queryInput, rangeSelect, custom, runButton,
  );

  function currentRange() {
    if (rangeSelect.value === 'custom') {
      const from = fromLocalInput(fromInput.value);
      const to = fromLocalInput(toInput.value);
      if (from === null || to === null || to <= from) throw Object.assign(new Error('pick a custom range whose end is after its start'), { code: 'BadRange' });
      return { from, to };
    }
    const to = nowSeconds() + 1;
    return { from: to - Number(rangeSelect.value), to };
  }

  /** Zooms into one histogram bucket: a custom range of its bounds, searched again. */
  function zoom(bucket) {
    rangeSelect.value = 'custom';
    custom.hidden = false;
    fromInput.value = toLocalInput(bucket.from);
    toInput.value = toLocalInput(bucket.to);
    busy(runButton, () => run());
  }

  async function run() {
    fill(queryError);
    contextBox.hidden = true;
    if (!state.logstore) {
      fill(queryError, errorBox({ code: 'NoLogstore', message: 'create a logstore first (Logstores page)' }));
      return;
    }
    try {
      state.range = currentRange();
    } catch (error) {
      fill(queryError, errorBox(error));
      return;
    }
    state.query = queryInput.value.trim();
    state.page = 0;
    fill(summary);
    fill(pager);
    histogramBox.hidden = false;
    if (isSql(state.query)) {
      // The histogram of the search part (as SLS shows it), beside the SQL result.
      loading(histogramBox, 'Counting');
      const params = { type: 'histogram', from: state.range.from, to: state.range.to, query: splitSql(state.query).trim() };
      const counted = request(app.session, 'GET', `/logstores/${state.logstore}`, { params })
        .then(({ data }) => fill(histogramBox, histogram(data || [], zoom, fmtTime)))
        .catch(() => fill(histogramBox));
      await Promise.all([runSql(), counted]);
      return;
    }
    state.pattern = termPattern(searchTerms(state.query));
    loading(histogramBox, 'Counting');
    loading(results, 'Searching');
    const path = `/logstores/${state.logstore}`;
    try {
      const [counts] = await Promise.all([
        request(app.session, 'GET', path, { params: { type: 'histogram', from: state.range.from, to: state.range.to, query: state.query } }),
        showPage(true),
      ]);
      const buckets = counts.data || [];
      state.total = buckets.reduce((sum, bucket) => sum + bucket.count, 0);
      fill(histogramBox, histogram(buckets, zoom, fmtTime));
      renderSummary();
      renderPager();
    } catch (error) {
      fill(histogramBox);
      fill(results);
      fill(queryError, errorBox(error));
    }
  }

  function renderSummary(extra = '') {
    fill(
      summary,
      h('span', { id: 'hit-count' }, String(state.total)), ` logs matched between ${fmtTime(state.range.from)} and ${fmtTime(state.range.to)}`, extra,
    );
  }

  /** One page of hits (newest first). Throws on the first page so that `run` shows the error. */
  async function showPage(first = false) {
    loading(results, 'Searching');
    const body = { from: state.range.from, to: state.range.to, query: state.query, line: state.pageSize, offset: state.page * state.pageSize, reverse: true };
    try {
      const { data } = await request(app.session, 'POST', `/logstores/${state.logstore}/logs`, { body });
      if (typeof data.meta.totalHits === 'number') state.total = data.meta.totalHits;
      renderRows(data.data);
      if (!first) renderPager();
    } catch (error) {
      if (first) throw error;
      fill(results, errorBox(error));
    }
  }

  function renderRows(rows) {
    if (!rows.length) {
      fill(results, h('p', { class: 'empty' }, 'No logs match in this time range.'));
      return;
    }
    const table = h('table', { class: 'logs', id: 'log-table' },
      h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Time'), h('th', {}, 'Content'), h('th', {}))),
      h('tbody', {}, rows.map((row, index) => logRow(row, state.page * state.pageSize + index + 1, state.pattern))));
    fill(results, table);
  }

  function logRow(row, number, pattern, extraClass) {
    const fields = Object.entries(row).filter(([key]) => !META_FIELDS.has(key));
    return h('tr', { class: extraClass || 'log' },
      h('td', { class: 'num' }, String(number)),
      h('td', { class: 'time' }, fmtTime(row.__time__)),
      h('td', { class: 'content' },
        row.__topic__ ? h('span', { class: 'tag' }, `topic: ${row.__topic__}`) : null,
        row.__source__ ? h('span', { class: 'tag' }, `source: ${row.__source__}`) : null,
        fields.map(([key, value]) => h('span', { class: 'field' }, h('span', { class: 'key' }, key), ': ', h('span', { class: 'value' }, highlighted(String(value), pattern))))),
      h('td', {}, row.__pack_meta__ && !extraClass ? h('button', { class: 'context-button', type: 'button', onclick: () => openContext(row) }, 'Context') : null));
  }

  function renderPager() {
    const pages = Math.max(1, Math.ceil(state.total / state.pageSize));
    const go = (page) => { state.page = page; showPage(); };
    fill(pager,
      h('button', { id: 'prev', type: 'button', disabled: state.page === 0, onclick: () => go(state.page - 1) }, '‹ Prev'),
      h('span', { id: 'page-info' }, `Page ${state.page + 1} of ${pages}`),
      h('button', { id: 'next', type: 'button', disabled: state.page + 1 >= pages, onclick: () => go(state.page + 1) }, 'Next ›'),
      ' ',
      select({ id: 'page-size', 'aria-label': 'logs per page', onchange: (event) => { state.pageSize = Number(event.target.value); go(0); } }, PAGE_SIZES.map((n) => [n, `${n} per page`]), state.pageSize));
  }

  async function openContext(row) {
    const lines = { back: 10, forward: 10 };
    contextBox.hidden = false;
    const body = h('div', { class: 'context-body' });
    const load = async () => {
      loading(body, 'Loading context');
      try {
        const { data } = await request(app.session, 'GET', `/logstores/${state.logstore}`, { params: { type: 'context_log', pack_meta: row.__pack_meta__, back_lines: lines.back, forward_lines: lines.forward } });
        fill(body, h('table', { class: 'logs context-table' }, h('tbody', {}, data.logs.map((log) => {
          const offset = Number(log.__index_number__);
          return logRow(log, offset > 0 ? `+${offset}` : String(offset), state.pattern, offset === 0 ? 'context-center' : 'context-line');
        }))));
        earlier.disabled = data.back_lines < lines.back || lines.back >= 100;
        later.disabled = data.forward_lines < lines.forward || lines.forward >= 100;
      } catch (error) {
        fill(body, errorBox(error));
      }
    };
    const earlier = h('button', { id: 'context-earlier', type: 'button', onclick: () => { lines.back = Math.min(100, lines.back + 10); load(); } }, 'Earlier');
    const later = h('button', { id: 'context-later', type: 'button', onclick: () => { lines.forward = Math.min(100, lines.forward + 10); load(); } }, 'Later');
    fill(contextBox,
      h('div', { class: 'drawer-head' }, h('h3', {}, `Context of the log at ${fmtTime(row.__time__)}`), earlier, later,
        h('button', { id: 'context-close', type: 'button', onclick: () => { contextBox.hidden = true; } }, 'Close')),
      body);
    await load();
  }

  async function runSql() {
    loading(results, 'Running SQL');
    let data;
    try {
      ({ data } = await request(app.session, 'POST', `/logstores/${state.logstore}/logs`, { body: { from: state.range.from, to: state.range.to, query: state.query } }));
    } catch (error) {
      fill(results);
      fill(queryError, errorBox(error));
      return;
    }
    const rows = data.data || [];
    const columns = rows.length ? [...new Set(rows.flatMap((row) => Object.keys(row)))] : data.meta.keys || [];
    state.total = rows.length;
    fill(summary, h('span', { id: 'hit-count' }, String(rows.length)), ` rows (SQL over ${data.meta.totalHits ?? '?'} matching logs, ${data.meta.elapsedMillisecond} ms)`);
    if (!rows.length) {
      fill(results, h('p', { class: 'empty' }, 'The query returned no rows.'));
      return;
    }
    const numeric = columns.filter((column) => rows.every((row) => row[column] === null || row[column] === '' || Number.isFinite(Number(row[column]))));
    const xDefault = columns.find((column) => !numeric.includes(column)) || columns[0];
    const yDefault = numeric.find((column) => column !== xDefault) || numeric[0];
    const kind = select({ id: 'chart-kind', 'aria-label': 'chart type' }, [['bar', 'Bar chart'], ['line', 'Line chart']], 'bar');
    const xSelect = select({ id: 'chart-x', 'aria-label': 'x axis' }, columns, xDefault);
    const ySelect = select({ id: 'chart-y', 'aria-label': 'y axis' }, numeric.length ? numeric : columns, yDefault);
    const chartBox = h('div', { id: 'sql-chart', class: 'panel' });
    const drawChart = () => {
      const shown = rows.slice(0, CHART_MAX_ROWS);
      fill(chartBox, sqlChart(shown, xSelect.value, [ySelect.value], kind.value),
        rows.length > shown.length ? h('p', { class: 'note' }, `chart of the first ${CHART_MAX_ROWS} of ${rows.length} rows`) : null);
    };
    for (const control of [kind, xSelect, ySelect]) control.addEventListener('change', drawChart);
    const tableBox = h('div', { id: 'sql-table' });
    fill(results, h('div', { class: 'chart-controls' }, kind, ' x: ', xSelect, ' y: ', ySelect), chartBox, tableBox);
    drawChart();
    await renderSqlTable(tableBox, rows, columns, 0);
  }

  /** SQL rows in client-side pages, so that a large result renders without freezing. */
  async function renderSqlTable(box, rows, columns, page) {
    const pages = Math.ceil(rows.length / SQL_PAGE);
    const tbody = h('tbody');
    const table = h('table', { class: 'sql' }, h('thead', {}, h('tr', {}, columns.map((column) => h('th', {}, column)))), tbody);
    const go = (to) => renderSqlTable(box, rows, columns, to);
    fill(box, table, h('div', { class: 'pager', id: 'sql-pager' },
      h('button', { type: 'button', id: 'sql-prev', disabled: page === 0, onclick: () => go(page - 1) }, '‹ Prev'),
      h('span', { id: 'sql-page-info' }, `Rows ${page * SQL_PAGE + 1}–${Math.min(rows.length, (page + 1) * SQL_PAGE)} of ${rows.length}`),
      h('button', { type: 'button', id: 'sql-next', disabled: page + 1 >= pages, onclick: () => go(page + 1) }, 'Next ›')));
    const slice = rows.slice(page * SQL_PAGE, (page + 1) * SQL_PAGE);
    for (let i = 0; i < slice.length; i += 25) {
      tbody.append(...slice.slice(i, i + 25).map((row) => h('tr', {}, columns.map((column) => h('td', {}, row[column] ?? '')))));
      await nextFrame();
    }
  }

  const root = h('section', { id: 'search-page' }, form, queryError, summary, histogramBox, results, pager, contextBox);
  return { root, run, queryInput };
}
