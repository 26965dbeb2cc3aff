// The logstores page: the project's logstores (create one), their shards, and consumer groups
// with their checkpoints and lag (log groups behind the shard's end, and the checkpoint's time).

import { cursorPosition, request } from './api.js';
import { busy, errorBox, fill, fmtTime, h, loading } from './ui.js';

export function storesPage(app) {
  const list = h('div', { id: 'logstore-list', class: 'panel' });
  const detail = h('div', { id: 'logstore-detail' });
  const formError = h('div', { id: 'create-logstore-error' });
  const name = h('input', { id: 'new-logstore', placeholder: 'logstore name', required: true, pattern: '[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]' });
  const ttl = h('input', { id: 'new-ttl', type: 'number', min: 1, max: 3650, value: '30', 'aria-label': 'days kept' });
  const shards = h('input', { id: 'new-shards', type: 'number', min: 1, max: 64, value: '2', 'aria-label': 'shards' });
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create logstore');
  const form = h('form', { class: 'toolbar', onsubmit: (event) => {
    event.preventDefault();
    busy(create, async () => {
      fill(formError);
      try {
        await request(app.session, 'POST', '/logstores', { body: { logstoreName: name.value.trim(), ttl: Number(ttl.value), shardCount: Number(shards.value) } });
        const created = name.value.trim();
        name.value = '';
        await app.reloadLogstores(created);
      } catch (error) {
        fill(formError, errorBox(error));
      }
    });
  } }, name, h('label', {}, ' days ', ttl), h('label', {}, ' shards ', shards), create);

  async function loadList() {
    if (!app.logstores.length) return fill(list, h('p', { class: 'empty' }, 'No logstores in this project yet.'));
    loading(list, 'Loading logstores');
    try {
      const stores = await Promise.all(app.logstores.map((logstore) => request(app.session, 'GET', `/logstores/${logstore}`).then((r) => r.data)));
      fill(list, h('table', { class: 'stores' },
        h('thead', {}, h('tr', {}, ['Logstore', 'Shards', 'Days kept', 'Created', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, stores.map((store) => h('tr', { class: store.logstoreName === app.logstore ? 'selected' : '' },
          h('td', {}, store.logstoreName), h('td', {}, String(store.shardCount)), h('td', {}, String(store.ttl)), h('td', {}, fmtTime(store.createTime)),
          h('td', {}, h('button', { type: 'button', class: 'open-logstore', onclick: () => { app.setLogstore(store.logstoreName); loadList(); } }, 'Details')))))));
      await loadDetail();
    } catch (error) {
      fill(list, errorBox(error));
    }
  }

  async function loadDetail() {
    const logstore = app.logstore;
    if (!logstore) return fill(detail);
    loading(detail, 'Loading shards and consumer groups');
    try {
      const base = `/logstores/${logstore}`;
      const [{ data: shardList }, { data: groups }] = await Promise.all([
        request(app.session, 'GET', `${base}/shards`),
        request(app.session, 'GET', `${base}/consumergroups`),
      ]);
      const ends = await Promise.all(shardList.map((shard) =>
        request(app.session, 'GET', `${base}/shards/${shard.shardID}`, { params: { type: 'cursor', from: 'end' } }).then((r) => cursorPosition(r.data.cursor))));
      const endOf = Object.fromEntries(shardList.map((shard, i) => [shard.shardID, ends[i]]));
      const groupTables = await Promise.all(groups.map(async (group) => {
        const { data: checkpoints } = await request(app.session, 'GET', `${base}/consumergroups/${group.name}`);
        const rows = await Promise.all(checkpoints.map(async (entry) => {
          const at = entry.checkpoint ? cursorPosition(entry.checkpoint) : null;
          let time = '';
          if (entry.checkpoint) {
            const { data } = await request(app.session, 'GET', `${base}/shards/${entry.shard}`, { params: { type: 'cursor_time', cursor: entry.checkpoint } });
            time = fmtTime(data.cursor_time);
          }
          const lag = at === null || endOf[entry.shard] === null ? (entry.checkpoint ? '?' : `${endOf[entry.shard] ?? '?'} (no checkpoint)`) : String(Math.max(0, endOf[entry.shard] - at));
          return h('tr', { class: 'checkpoint' }, h('td', {}, String(entry.shard)), h('td', {}, entry.consumer || ''), h('td', { class: 'mono' }, entry.checkpoint || '—'),
            h('td', {}, time), h('td', { class: 'lag' }, lag), h('td', {}, entry.updateTime ? fmtTime(entry.updateTime / 1e6) : ''));
        }));
        return h('div', { class: 'group', dataset: { group: group.name } },
          h('h4', {}, `Consumer group ${group.name}`, h('small', {}, ` timeout ${group.timeout} s, ${group.order ? 'ordered' : 'unordered'}`)),
          h('table', { class: 'checkpoints' }, h('thead', {}, h('tr', {}, ['Shard', 'Consumer', 'Checkpoint', 'Checkpoint time', 'Lag (log groups)', 'Updated'].map((t) => h('th', {}, t)))), h('tbody', {}, rows)));
      }));
      fill(detail,
        h('h3', {}, `Logstore ${logstore}`),
        h('table', { class: 'shards' }, h('thead', {}, h('tr', {}, ['Shard', 'Status', 'Hash range', 'Log groups'].map((t) => h('th', {}, t)))),
          h('tbody', {}, shardList.map((shard) => h('tr', {}, h('td', {}, String(shard.shardID)), h('td', {}, shard.status),
            h('td', { class: 'mono' }, `${shard.inclusiveBeginKey.slice(0, 8)}… – ${shard.exclusiveEndKey.slice(0, 8)}…`), h('td', {}, String(endOf[shard.shardID] ?? '?')))))),
        groups.length ? groupTables : h('p', { class: 'empty' }, 'No consumer groups on this logstore.'));
    } catch (error) {
      fill(detail, errorBox(error));
    }
  }

  const root = h('section', { id: 'stores-page' }, form, formError, list, detail);
  loadList();
  return { root };
}
