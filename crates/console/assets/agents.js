// The agents page: machine groups (create, delete, the configs applied to each), the agents of a
// group as their last heartbeats (`POST /agents/poll`) describe them (version, files tailed,
// bytes behind, drops, errors, online or not), and Logtail-style collection configs (create,
// delete, apply to a group, remove from it).

import { request } from './api.js';
import { busy, errorBox, fill, fmtTime, h, loading, nowSeconds, select } from './ui.js';

// An agent polls every few seconds (3 s by default); one silent for this long is shown offline.
const OFFLINE_AFTER_SECONDS = 60;
const LOG_TYPES = [['common_reg_log', 'regex'], ['json_log', 'JSON'], ['delimiter_log', 'delimiter']];

/** The list of names a comma- or space-separated text holds. */
export function splitList(text) {
  return text.split(/[\s,]+/).map((item) => item.trim()).filter(Boolean);
}

/** "1.2 MB" for a byte count. */
export function fmtBytes(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** The body of CreateConfig for the form's fields. */
export function configBody({ name, logstore, logPath, filePattern, logType, regex, keys, separator, maxDepth }) {
  const inputDetail = { logType, logPath, filePattern, maxDepth: Number(maxDepth) || 0 };
  const keyList = splitList(keys);
  if (keyList.length) inputDetail.key = keyList;
  if (logType === 'common_reg_log' && regex) inputDetail.regex = regex;
  if (logType === 'delimiter_log') inputDetail.separator = separator || ',';
  return { configName: name, inputType: 'file', inputDetail, outputType: 'LogService', outputDetail: { logstoreName: logstore } };
}

/** The files a config's inputDetail collects, as text. */
export function filesText(detail) {
  const depth = Number(detail.maxDepth) || 0;
  const dir = String(detail.logPath || '').replace(/\/+$/, '');
  return depth ? `${dir}/**/${detail.filePattern} (${depth} levels deep)` : `${dir}/${detail.filePattern}`;
}

async function names(app, path, key) {
  const { data } = await request(app.session, 'GET', path, { params: { offset: 0, size: 500 } });
  return data[key];
}

export function agentsPage(app) {
  const state = { group: sessionStorage.getItem('logport.console.group') || '' };
  const groupsBox = h('div', { id: 'groups', class: 'panel' });
  const groupDetail = h('div', { id: 'group-detail' });
  const configsBox = h('div', { id: 'configs', class: 'panel' });
  const message = h('div', { id: 'agents-message', 'aria-live': 'polite' });
  let configNames = [];

  // A new machine group.
  const groupName = h('input', { id: 'new-group', placeholder: 'machine group name', required: true });
  const groupType = select({ id: 'new-group-type', 'aria-label': 'machine identity' }, [['userdefined', 'user-defined identity'], ['ip', 'IP address']], 'userdefined');
  const groupMachines = h('input', { id: 'new-group-machines', placeholder: 'identities or IPs, comma-separated', size: 36 });
  const groupError = h('div', { id: 'create-group-error' });
  const createGroup = h('button', { type: 'submit', class: 'primary' }, 'Create group');
  const groupForm = h('form', { id: 'group-form', class: 'toolbar', onsubmit: (event) => {
    event.preventDefault();
    busy(createGroup, async () => {
      fill(groupError);
      try {
        const name = groupName.value.trim();
        await request(app.session, 'POST', '/machinegroups', { body: { groupName: name, machineIdentifyType: groupType.value, machineList: splitList(groupMachines.value), groupType: '', groupAttribute: {} } });
        groupName.value = '';
        groupMachines.value = '';
        pickGroup(name);
        await loadGroups();
      } catch (error) {
        fill(groupError, errorBox(error));
      }
    });
  } }, groupName, groupType, groupMachines, createGroup);

  // A new collection config.
  const field = (id, placeholder, attrs = {}) => h('input', { id, placeholder, ...attrs });
  const configName = field('new-config', 'config name', { required: true });
  const configLogstore = select({ id: 'new-config-logstore', 'aria-label': 'logstore' }, app.logstores.length ? app.logstores : [['', 'no logstore']], app.logstore);
  const configPath = field('new-config-path', '/var/log/app (absolute directory)', { required: true, size: 28 });
  const configPattern = field('new-config-pattern', 'file pattern, e.g. *.log', { required: true, value: '*.log' });
  const configDepth = field('new-config-depth', 'depth', { type: 'number', min: 0, max: 1000, value: '0', 'aria-label': 'directory depth' });
  const configType = select({ id: 'new-config-type', 'aria-label': 'log type' }, LOG_TYPES, 'common_reg_log');
  const configRegex = field('new-config-regex', 'regex with capture groups, e.g. (\\S+) (.*)', { size: 30 });
  const configKeys = field('new-config-keys', 'keys, comma-separated');
  const configSeparator = field('new-config-separator', 'separator', { size: 4, hidden: true });
  configType.addEventListener('change', () => {
    configRegex.hidden = configType.value !== 'common_reg_log';
    configSeparator.hidden = configType.value !== 'delimiter_log';
  });
  const configError = h('div', { id: 'create-config-error' });
  const createConfig = h('button', { type: 'submit', class: 'primary' }, 'Create config');
  const configForm = h('form', { id: 'config-form', class: 'toolbar', onsubmit: (event) => {
    event.preventDefault();
    busy(createConfig, async () => {
      fill(configError);
      try {
        const body = configBody({ name: configName.value.trim(), logstore: configLogstore.value, logPath: configPath.value.trim(), filePattern: configPattern.value.trim(),
          logType: configType.value, regex: configRegex.value, keys: configKeys.value, separator: configSeparator.value, maxDepth: configDepth.value });
        await request(app.session, 'POST', '/configs', { body });
        configName.value = '';
        await loadConfigs();
        if (state.group) await loadGroupDetail();
      } catch (error) {
        fill(configError, errorBox(error));
      }
    });
  } }, configName, configLogstore, configPath, configPattern, h('label', {}, ' depth ', configDepth), configType, configRegex, configSeparator, configKeys, createConfig);

  function pickGroup(name) {
    state.group = name;
    sessionStorage.setItem('logport.console.group', name);
  }

  async function loadGroups() {
    loading(groupsBox, 'Loading machine groups');
    try {
      const groupNames = await names(app, '/machinegroups', 'machinegroups');
      if (!groupNames.length) {
        pickGroup('');
        fill(groupDetail);
        return fill(groupsBox, h('p', { class: 'empty' }, 'No machine groups in this project yet.'));
      }
      const groups = await Promise.all(groupNames.map(async (name) => {
        const [{ data: group }, { data: applied }] = await Promise.all([
          request(app.session, 'GET', `/machinegroups/${name}`),
          request(app.session, 'GET', `/machinegroups/${name}/configs`),
        ]);
        return { ...group, configs: applied.configs };
      }));
      if (!groupNames.includes(state.group)) pickGroup(groupNames[0]);
      fill(groupsBox, h('table', { id: 'group-table' },
        h('thead', {}, h('tr', {}, ['Machine group', 'Identity', 'Machines', 'Configs', 'Changed', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, groups.map((group) => h('tr', { class: `group-row${group.groupName === state.group ? ' selected' : ''}`, dataset: { group: group.groupName } },
          h('td', {}, group.groupName),
          h('td', {}, group.machineIdentifyType === 'userdefined' ? 'user-defined' : 'IP'),
          h('td', { class: 'mono' }, group.machineList.join(', ') || '—'),
          h('td', { class: 'group-configs' }, group.configs.join(', ') || '—'),
          h('td', {}, fmtTime(group.lastModifyTime)),
          h('td', {},
            h('button', { type: 'button', class: 'open-group', onclick: () => { pickGroup(group.groupName); loadGroups(); } }, 'Agents'), ' ',
            h('button', { type: 'button', class: 'delete-group', onclick: (event) => busy(event.target, () => remove(`/machinegroups/${group.groupName}`, `machine group ${group.groupName}`)) }, 'Delete')))))));
      await loadGroupDetail();
    } catch (error) {
      fill(groupsBox, errorBox(error));
    }
  }

  async function loadGroupDetail() {
    const group = state.group;
    if (!group) return fill(groupDetail);
    loading(groupDetail, 'Loading agents');
    try {
      const base = `/machinegroups/${group}`;
      const [{ data: machines }, { data: applied }] = await Promise.all([
        request(app.session, 'GET', `${base}/machines`),
        request(app.session, 'GET', `${base}/configs`),
      ]);
      const unapplied = configNames.filter((name) => !applied.configs.includes(name));
      const configSelect = select({ id: 'apply-config', 'aria-label': 'config to apply' }, unapplied.length ? unapplied : [['', 'no other config']], unapplied[0] || '');
      const apply = h('button', { type: 'button', id: 'apply', disabled: !unapplied.length, onclick: (event) => busy(event.target, async () => {
        try {
          await request(app.session, 'PUT', `${base}/configs/${configSelect.value}`);
          fill(message, h('div', { class: 'ok' }, `Applied ${configSelect.value} to ${group}; its agents pick it up at their next poll.`));
        } catch (error) {
          fill(message, errorBox(error));
        }
        await Promise.all([loadGroups(), loadConfigs()]);
      }) }, 'Apply to group');
      const refresh = h('button', { type: 'button', id: 'refresh-agents', onclick: () => loadGroupDetail() }, 'Refresh');
      const now = nowSeconds();
      fill(groupDetail,
        h('div', { class: 'toolbar' }, h('h3', {}, `Machine group ${group}`), configSelect, apply, refresh),
        h('h4', {}, 'Configs applied'),
        applied.configs.length ? h('ul', { id: 'applied-configs' }, applied.configs.map((name) => h('li', { dataset: { config: name } }, name, ' ',
          h('button', { type: 'button', class: 'remove-config', onclick: (event) => busy(event.target, async () => {
            try {
              await request(app.session, 'DELETE', `${base}/configs/${name}`);
              fill(message, h('div', { class: 'ok' }, `Removed ${name} from ${group}.`));
            } catch (error) {
              fill(message, errorBox(error));
            }
            await Promise.all([loadGroups(), loadConfigs()]);
          }) }, 'Remove')))) : h('p', { class: 'empty' }, 'No config applied to this group.'),
        h('h4', {}, `Agents (${machines.machines.length})`),
        machines.machines.length ? h('table', { id: 'machine-table' },
          h('thead', {}, h('tr', {}, ['Agent', 'IP', 'Hostname', 'Version', 'State', 'Last heartbeat', 'Files', 'Bytes behind', 'Dropped batches', 'Errors'].map((t) => h('th', {}, t)))),
          h('tbody', {}, machines.machines.map((machine) => {
            const status = machine.status || {};
            const age = now - machine.lastHeartbeatTime;
            const online = age <= OFFLINE_AFTER_SECONDS;
            const errors = status.errors || [];
            return h('tr', { class: `machine ${online ? 'online' : 'offline'}`, dataset: { id: machine['userdefined-id'] || machine.ip } },
              h('td', {}, machine['userdefined-id'] || '—'),
              h('td', { class: 'mono' }, machine.ip),
              h('td', {}, status.hostname || ''),
              h('td', { class: 'version' }, status.version || ''),
              h('td', { class: 'state' }, h('span', { class: `status ${online ? 'success' : 'fail'}` }, online ? 'online' : 'offline')),
              h('td', { title: fmtTime(machine.lastHeartbeatTime) }, `${Math.max(0, age)} s ago`),
              h('td', { class: 'files' }, String(status.files ?? 0)),
              h('td', { class: 'behind', title: `${status.bytesBehind ?? 0} bytes` }, fmtBytes(status.bytesBehind)),
              h('td', { class: 'drops' }, String(status.drops ?? 0)),
              h('td', { class: errors.length ? 'agent-errors task-error' : 'agent-errors' }, errors.length ? errors.slice(-3).join('\n') : '—'));
          }))) : h('p', { class: 'empty' }, 'No agent of this group has polled yet. Agents in central mode (`[agent] central = true`) poll POST /agents/poll.'));
    } catch (error) {
      fill(groupDetail, errorBox(error));
    }
  }

  async function loadConfigs() {
    loading(configsBox, 'Loading collection configs');
    try {
      configNames = await names(app, '/configs', 'configs');
      if (!configNames.length) return fill(configsBox, h('p', { class: 'empty' }, 'No collection configs in this project yet.'));
      const configs = await Promise.all(configNames.map(async (name) => {
        const [{ data: config }, { data: groups }] = await Promise.all([
          request(app.session, 'GET', `/configs/${name}`),
          request(app.session, 'GET', `/configs/${name}/machinegroups`),
        ]);
        return { ...config, groups: groups.machinegroups };
      }));
      fill(configsBox, h('table', { id: 'config-table' },
        h('thead', {}, h('tr', {}, ['Config', 'Logstore', 'Files', 'Parser', 'Machine groups', 'Changed', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, configs.map((config) => {
          const detail = config.inputDetail || {};
          const type = (LOG_TYPES.find(([value]) => value === (detail.logType || 'common_reg_log')) || [])[1] || detail.logType;
          return h('tr', { class: 'config-row', dataset: { config: config.configName } },
            h('td', {}, config.configName),
            h('td', {}, (config.outputDetail || {}).logstoreName || ''),
            h('td', { class: 'mono' }, filesText(detail)),
            h('td', { class: 'mono' }, detail.logType === 'common_reg_log' || !detail.logType ? `${type} ${detail.regex || '(.*)'} → ${(detail.key || ['content']).join(', ')}` : type),
            h('td', { class: 'config-groups' }, config.groups.join(', ') || '—'),
            h('td', {}, fmtTime(config.lastModifyTime)),
            h('td', {}, h('button', { type: 'button', class: 'delete-config', onclick: (event) => busy(event.target, () => remove(`/configs/${config.configName}`, `config ${config.configName}`)) }, 'Delete')));
        }))));
    } catch (error) {
      fill(configsBox, errorBox(error));
    }
  }

  async function remove(path, what) {
    try {
      await request(app.session, 'DELETE', path);
      fill(message, h('div', { class: 'ok' }, `Deleted ${what}.`));
    } catch (error) {
      fill(message, errorBox(error));
    }
    await loadConfigs();
    await loadGroups();
  }

  const root = h('section', { id: 'agents-page' }, message,
    h('h3', {}, 'Machine groups'), groupForm, groupError, groupsBox, groupDetail,
    h('h3', {}, 'Collection configs'), configForm, configError, configsBox);
  (async () => {
    await loadConfigs();
    await loadGroups();
  })();
  return { root };
}
