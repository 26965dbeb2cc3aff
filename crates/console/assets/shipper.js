// The shipper page: rules of a logstore, their tasks of the last 2 days with a status filter,
// error messages, retry one / retry all failed, and Logport's "ship now" (flush).

import { request } from './api.js';
import { busy, errorBox, fill, fmtTime, h, loading, nowSeconds, select } from './ui.js';

const STATUSES = [['', 'All statuses'], ['running', 'Running'], ['success', 'Success'], ['fail', 'Failed']];
const TASK_PAGE = 100;

export function shipperPage(app) {
  const state = { logstore: app.logstore, rule: null, status: '', offset: 0 };
  const logstoreSelect = select({ id: 'shipper-logstore', 'aria-label': 'logstore' }, app.logstores, app.logstore);
  const rulesBox = h('div', { id: 'rules', class: 'panel' });
  const tasksBox = h('div', { id: 'tasks' });
  const message = h('div', { id: 'shipper-message', 'aria-live': 'polite' });
  logstoreSelect.addEventListener('change', () => {
    state.logstore = logstoreSelect.value;
    app.setLogstore(state.logstore);
    state.rule = null;
    loadRules();
  });
  const base = () => `/logstores/${state.logstore}/shipper`;

  async function loadRules() {
    fill(tasksBox);
    if (!state.logstore) return fill(rulesBox, h('p', { class: 'empty' }, 'No logstore yet.'));
    loading(rulesBox, 'Loading rules');
    try {
      const { data } = await request(app.session, 'GET', base(), { params: { offset: 0, size: 500 } });
      const rules = await Promise.all(data.shipper.map((name) => request(app.session, 'GET', `${base()}/${name}`).then((r) => r.data)));
      if (!rules.length) return fill(rulesBox, h('p', { class: 'empty' }, 'No shipping rules on this logstore.'));
      fill(rulesBox, h('table', { class: 'rules' },
        h('thead', {}, h('tr', {}, ['Rule', 'Bucket', 'Prefix', 'Format', 'Compression', 'Every', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, rules.map((rule) => {
          const target = rule.targetConfiguration || {};
          return h('tr', { class: rule.shipperName === state.rule ? 'selected' : '' },
            h('td', {}, rule.shipperName), h('td', {}, target.ossBucket), h('td', {}, target.ossPrefix),
            h('td', {}, (target.storage || {}).format), h('td', {}, target.compressType), h('td', {}, `${target.bufferInterval} s / ${target.bufferSize} MB`),
            h('td', {}, h('button', { type: 'button', class: 'show-tasks', dataset: { rule: rule.shipperName }, onclick: () => { state.rule = rule.shipperName; state.offset = 0; loadRules(); } }, 'Tasks')));
        }))));
      if (!state.rule) state.rule = rules[0].shipperName;
      for (const row of rulesBox.querySelectorAll('tbody tr')) row.classList.toggle('selected', row.firstChild.textContent === state.rule);
      await loadTasks();
    } catch (error) {
      fill(rulesBox, errorBox(error));
    }
  }

  async function loadTasks() {
    const now = nowSeconds();
    const statusSelect = select({ id: 'task-status', 'aria-label': 'task status' }, STATUSES, state.status);
    statusSelect.addEventListener('change', () => { state.status = statusSelect.value; state.offset = 0; loadTasks(); });
    const flush = h('button', { id: 'flush', type: 'button', title: 'close the open windows and ship them now' }, 'Ship now');
    const retryAll = h('button', { id: 'retry-all', type: 'button' }, 'Retry all failed');
    const refresh = h('button', { id: 'refresh-tasks', type: 'button', onclick: () => loadTasks() }, 'Refresh');
    const list = h('div', { id: 'task-list' });
    fill(tasksBox, h('div', { class: 'toolbar' }, h('h3', {}, `Tasks of ${state.rule}, last 2 days`), statusSelect, refresh, flush, retryAll), message, list);
    flush.addEventListener('click', () => busy(flush, async () => {
      try {
        const { data } = await request(app.session, 'POST', `${base()}/${state.rule}`, { params: { type: 'flush' } });
        fill(message, h('div', { class: 'ok' }, `Shipped now: ${JSON.stringify(data)}`));
        await loadTasks();
      } catch (error) {
        fill(message, errorBox(error));
      }
    }));
    retryAll.addEventListener('click', () => busy(retryAll, () => retry(null)));
    loading(list, 'Loading tasks');
    try {
      const params = { from: now - 2 * 86400, to: now + 1, status: state.status, offset: state.offset, size: TASK_PAGE };
      const { data } = await request(app.session, 'GET', `${base()}/${state.rule}/tasks`, { params });
      const stats = data.statistics;
      retryAll.disabled = !stats.fail;
      fill(list,
        h('p', { id: 'task-stats', class: 'summary' }, `${data.total} tasks: `, h('span', { class: 'status running' }, `${stats.running} running`), ' ',
          h('span', { class: 'status success' }, `${stats.success} succeeded`), ' ', h('span', { class: 'status fail' }, `${stats.fail} failed`)),
        data.tasks.length ? h('table', { class: 'tasks', id: 'task-table' },
          h('thead', {}, h('tr', {}, ['Task', 'Status', 'Shard', 'Created', 'Finished', 'Attempts', 'Lines', 'Object / error', ''].map((t) => h('th', {}, t)))),
          h('tbody', {}, data.tasks.map(taskRow))) : h('p', { class: 'empty' }, 'No tasks in the last 2 days.'),
        h('div', { class: 'pager' },
          h('button', { type: 'button', disabled: state.offset === 0, onclick: () => { state.offset -= TASK_PAGE; loadTasks(); } }, '‹ Prev'),
          h('span', {}, `${state.offset + 1}–${state.offset + data.count} of ${data.total}`),
          h('button', { type: 'button', disabled: state.offset + data.count >= data.total, onclick: () => { state.offset += TASK_PAGE; loadTasks(); } }, 'Next ›')));
    } catch (error) {
      fill(list, errorBox(error));
    }
  }

  function taskRow(task) {
    const failed = task.taskStatus === 'fail';
    return h('tr', { class: `task ${task.taskStatus}`, dataset: { id: task.id } },
      h('td', { class: 'mono' }, task.id),
      h('td', {}, h('span', { class: `status ${task.taskStatus}` }, task.taskStatus)),
      h('td', {}, String(task.shard)),
      h('td', {}, fmtTime(task.taskCreateTime)),
      h('td', {}, fmtTime(task.taskFinishTime)),
      h('td', {}, String(task.attempts)),
      h('td', {}, String(task.lines)),
      h('td', { class: failed ? 'task-error' : 'mono' }, failed ? task.taskMessage : task.objectKey || ''),
      h('td', {}, failed ? h('button', { type: 'button', class: 'retry', onclick: (event) => busy(event.target, () => retry([task.id])) }, 'Retry') : null));
  }

  /** Retries the given failed tasks, or every failed one (`ids` null). */
  async function retry(ids) {
    try {
      const options = ids ? { body: ids } : { params: { all: 'true' } };
      const { data } = await request(app.session, 'PUT', `${base()}/${state.rule}/tasks`, options);
      fill(message, h('div', { class: 'ok' }, `Retrying ${data.retried} task(s).`));
    } catch (error) {
      fill(message, errorBox(error));
      return;
    }
    await loadTasks();
  }

  const root = h('section', { id: 'shipper-page' }, h('div', { class: 'toolbar' }, h('label', {}, 'Logstore ', logstoreSelect)), rulesBox, tasksBox);
  loadRules();
  return { root };
}
