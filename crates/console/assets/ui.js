// Small DOM helpers: elements built from data (never HTML strings, so logs cannot inject markup),
// loading and error states, times.

/** `h('td', {class: 'x', onclick: f}, 'text', child)`: an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name in element && typeof value !== 'string') element[name] = value;
    else element.setAttribute(name, value === true ? '' : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A visible "loading" state in `element`. */
export function loading(element, what = 'Loading') {
  fill(element, h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner' }), `${what}…`));
}

/** An error box with the server's code and message. */
export function errorBox(error) {
  const code = error && error.code ? error.code : 'Error';
  return h('div', { class: 'error', role: 'alert' }, h('strong', {}, code), ': ', error ? error.message : 'unknown error');
}

/** Local date-time text of unix seconds. */
export function fmtTime(seconds) {
  if (seconds === undefined || seconds === null || seconds === '' || Number(seconds) <= 0) return '';
  const date = new Date(Number(seconds) * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Value of an `<input type="datetime-local">` for unix seconds, and back. */
export function toLocalInput(seconds) {
  return fmtTime(seconds).replace(' ', 'T');
}
export function fromLocalInput(text) {
  const ms = new Date(text).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A `<select>` of options ([value, label] pairs or plain values). */
export function select(attrs, options, selected) {
  return h(
    'select',
    attrs,
    options.map((option) => {
      const [value, label] = Array.isArray(option) ? option : [option, option];
      return h('option', { value, selected: String(value) === String(selected) }, label);
    }),
  );
}

/** Runs `task` while `button` is disabled (no double submits). */
export async function busy(button, task) {
  button.disabled = true;
  try {
    return await task();
  } finally {
    button.disabled = false;
  }
}

/** Yields to the browser so that a long rendering loop does not freeze the page. */
export const nextFrame = () => new Promise((resolve) => setTimeout(resolve, 0));
