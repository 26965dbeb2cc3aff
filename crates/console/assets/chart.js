// SVG charts: the histogram of a search (clickable bars) and a bar or line chart of an SQL result.

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value);
  }
  for (const child of children) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

/** A round upper bound for an axis, and its ticks. */
export function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: 1, step: 1 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return { top: Math.ceil(max / step) * step, step };
}

const short = (n) => (Math.abs(n) >= 1e6 ? `${+(n / 1e6).toFixed(1)}M` : Math.abs(n) >= 1e4 ? `${+(n / 1e3).toFixed(1)}k` : `${+n.toFixed(2)}`);

/**
 * The histogram: one bar per bucket ({from, to, count}); `onPick(bucket)` when a bar is clicked.
 * Bars carry data-count, data-from and data-to (the tests read them).
 */
export function histogram(buckets, onPick, label) {
  const width = 900;
  const height = 140;
  const pad = { left: 44, right: 8, top: 8, bottom: 22 };
  const max = Math.max(0, ...buckets.map((b) => b.count));
  const { top, step } = niceScale(max);
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const slot = plotW / Math.max(1, buckets.length);
  const root = svg('svg', { class: 'histogram', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'histogram of matching logs' });
  for (let v = 0; v <= top; v += step) {
    const y = pad.top + plotH - (v / top) * plotH;
    root.append(svg('line', { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: 'grid' }));
    root.append(svg('text', { x: pad.left - 4, y: y + 4, 'text-anchor': 'end', class: 'axis' }, short(v)));
  }
  buckets.forEach((bucket, index) => {
    const barH = (bucket.count / top) * plotH;
    const x = pad.left + index * slot;
    const bar = svg(
      'rect',
      {
        class: 'bar',
        x: x + slot * 0.1,
        y: pad.top + plotH - barH,
        width: Math.max(1, slot * 0.8),
        height: Math.max(bucket.count ? 1 : 0, barH),
        'data-count': bucket.count,
        'data-from': bucket.from,
        'data-to': bucket.to,
        onclick: () => onPick(bucket),
      },
      svg('title', {}, `${label(bucket.from)} – ${label(bucket.to)}: ${bucket.count} logs (click to zoom)`),
    );
    // A transparent full-height target, so that short bars are easy to click.
    root.append(svg('rect', { class: 'hit', x, y: pad.top, width: slot, height: plotH, onclick: () => onPick(bucket) }), bar);
  });
  const labels = Math.min(6, buckets.length);
  for (let i = 0; i < labels; i++) {
    const index = Math.floor((i * buckets.length) / labels);
    const x = pad.left + index * slot;
    root.append(svg('text', { x, y: height - 6, class: 'axis' }, label(buckets[index].from).slice(5, 16)));
  }
  return root;
}

/**
 * A bar or line chart of `rows` (objects): `x` names the category column, `ys` the numeric
 * columns. Points carry data-x / data-y.
 */
export function sqlChart(rows, x, ys, kind) {
  const width = 900;
  const height = 260;
  const pad = { left: 56, right: 12, top: 12, bottom: 48 };
  const values = rows.flatMap((row) => ys.map((y) => Number(row[y]))).filter(Number.isFinite);
  const max = Math.max(0, ...values);
  const { top, step } = niceScale(max);
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const slot = plotW / Math.max(1, rows.length);
  const yOf = (v) => pad.top + plotH - (Math.max(0, v) / top) * plotH;
  const root = svg('svg', { class: `sql-chart ${kind}`, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${kind} chart` });
  for (let v = 0; v <= top; v += step) {
    root.append(svg('line', { x1: pad.left, x2: width - pad.right, y1: yOf(v), y2: yOf(v), class: 'grid' }));
    root.append(svg('text', { x: pad.left - 4, y: yOf(v) + 4, 'text-anchor': 'end', class: 'axis' }, short(v)));
  }
  ys.forEach((y, series) => {
    const points = rows.map((row, index) => [pad.left + index * slot + slot / 2, Number(row[y]) || 0, row[x]]);
    if (kind === 'line') {
      root.append(svg('polyline', { class: `series s${series % 4}`, points: points.map(([px, v]) => `${px},${yOf(v)}`).join(' ') }));
      for (const [px, v, label] of points) {
        root.append(svg('circle', { class: `point s${series % 4}`, cx: px, cy: yOf(v), r: 3, 'data-x': label, 'data-y': v }, svg('title', {}, `${label}: ${v}`)));
      }
    } else {
      const barW = (slot * 0.8) / ys.length;
      points.forEach(([px, v, label]) => {
        const left = px - slot * 0.4 + series * barW;
        root.append(
          svg('rect', { class: `bar s${series % 4}`, x: left, y: yOf(v), width: Math.max(1, barW), height: pad.top + plotH - yOf(v), 'data-x': label, 'data-y': v }, svg('title', {}, `${label}: ${v}`)),
        );
      });
    }
  });
  const every = Math.max(1, Math.ceil(rows.length / 12));
  rows.forEach((row, index) => {
    if (index % every) return;
    const px = pad.left + index * slot + slot / 2;
    const text = String(row[x] ?? '').slice(0, 16);
    root.append(svg('text', { x: px, y: height - pad.bottom + 14, 'text-anchor': 'middle', class: 'axis' }, text));
  });
  ys.forEach((y, series) => {
    root.append(svg('rect', { x: pad.left + series * 140, y: height - 16, width: 10, height: 10, class: `legend s${series % 4}` }));
    root.append(svg('text', { x: pad.left + series * 140 + 14, y: height - 7, class: 'axis' }, y));
  });
  return root;
}
