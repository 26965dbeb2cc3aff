// The console's shell: sign-in (an access key kept in sessionStorage, or the dev mode of
// `logport up --insecure-no-auth`), the project picker and the pages (#search, #logstores,
// #shipper, #agents).

import { agentsPage } from './agents.js';
import { loadSession, probeDevMode, request, saveSession } from './api.js';
import { searchPage } from './search.js';
import { shipperPage } from './shipper.js';
import { storesPage } from './stores.js';
import { busy, errorBox, fill, h, loading, select } from './ui.js';

const PAGES = { search: ['Search', searchPage], logstores: ['Logstores', storesPage], shipper: ['Shipper', shipperPage], agents: ['Agents', agentsPage] };
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

const app = {
  session: null,
  projects: [],
  logstores: [],
  logstore: '',
  setLogstore(name) {
    app.logstore = name;
    sessionStorage.setItem('logport.console.logstore', name);
  },
  async reloadLogstores(pick) {
    await loadLogstores();
    if (pick) app.setLogstore(pick);
    show();
  },
};

function signIn(message) {
  fill(nav);
  fill(who);
  const id = h('input', { id: 'key-id', placeholder: 'AccessKeyId', autocomplete: 'username', required: true });
  const secret = h('input', { id: 'key-secret', type: 'password', placeholder: 'AccessKeySecret', autocomplete: 'current-password', required: true });
  const error = h('div', { id: 'signin-error' });
  const button = h('button', { type: 'submit', class: 'primary', id: 'signin' }, 'Sign in');
  const form = h('form', { class: 'signin panel', onsubmit: (event) => {
    event.preventDefault();
    busy(button, async () => {
      const session = { keyId: id.value.trim(), secret: secret.value, dev: false };
      try {
        await request(session, 'GET', '/', { project: false, params: { size: 1 } });
      } catch (failure) {
        fill(error, errorBox(failure));
        return;
      }
      saveSession(session);
      start(session);
    });
  } },
  h('h2', {}, 'Sign in to Logport'),
  h('p', {}, 'Requests are signed in this browser (SLS signature v4) with an access key of the server. ',
    '`logport up` prints its development key at first start and keeps it in ', h('code', {}, '<data-dir>/dev-access-key.json'), '. ',
    'The key stays in this tab only (sessionStorage).'),
  id, secret, button, error, message ? errorBox(message) : null);
  fill(main, form);
}

async function loadLogstores() {
  app.logstores = [];
  if (!app.session.project) return;
  const { data } = await request(app.session, 'GET', '/logstores', { params: { offset: 0, size: 500 } });
  app.logstores = data.logstores;
  if (!app.logstores.includes(app.logstore)) app.setLogstore(app.logstores[0] || '');
}

async function start(session) {
  app.session = session;
  loading(main, 'Connecting');
  try {
    const { data } = await request(session, 'GET', '/', { project: false, params: { offset: 0, size: 500 } });
    app.projects = data.projects.map((project) => project.projectName);
    if (!app.projects.includes(session.project)) session.project = app.projects[0] || '';
    saveSession(session);
    app.logstore = sessionStorage.getItem('logport.console.logstore') || '';
    await loadLogstores();
  } catch (error) {
    if (error.status === 401 || error.code === 'SignatureNotMatch' || error.code === 'Unauthorized') {
      saveSession(null);
      return signIn(error);
    }
    fill(main, errorBox(error), h('button', { type: 'button', onclick: () => { saveSession(null); signIn(); } }, 'Sign in again'));
    return;
  }
  renderHeader();
  show();
}

function renderHeader() {
  const session = app.session;
  const projectSelect = select({ id: 'project', 'aria-label': 'project' }, app.projects.length ? app.projects : [['', 'no project']], session.project);
  projectSelect.addEventListener('change', async () => {
    session.project = projectSelect.value;
    saveSession(session);
    await app.reloadLogstores();
  });
  const newProject = h('button', { type: 'button', id: 'new-project', onclick: () => createProject() }, '+ Project');
  fill(who, projectSelect, newProject, ' ', h('span', { class: 'key' }, session.dev ? 'dev mode (no signatures)' : `key ${session.keyId}`), ' ',
    session.dev ? null : h('button', { type: 'button', id: 'signout', onclick: () => { saveSession(null); signIn(); } }, 'Sign out'));
  fill(nav, Object.entries(PAGES).map(([page, [label]]) => h('a', { href: `#${page}`, id: `nav-${page}` }, label)));
}

function createProject() {
  const name = h('input', { id: 'new-project-name', placeholder: 'project name', required: true });
  const error = h('div', { id: 'new-project-error' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Create project');
  fill(main, h('form', { class: 'panel signin', onsubmit: (event) => {
    event.preventDefault();
    busy(button, async () => {
      try {
        await request(app.session, 'POST', '/', { project: false, body: { projectName: name.value.trim(), description: '' } });
        app.session.project = name.value.trim();
        saveSession(app.session);
        await start(app.session);
      } catch (failure) {
        fill(error, errorBox(failure));
      }
    });
  } }, h('h2', {}, 'New project'), name, button, error));
}

function show() {
  if (!app.session) return;
  const page = (location.hash.slice(1) || 'search').split('?')[0];
  const [, make] = PAGES[page] || PAGES.search;
  for (const link of nav.querySelectorAll('a')) link.classList.toggle('active', link.getAttribute('href') === `#${page in PAGES ? page : 'search'}`);
  if (!app.session.project) {
    fill(main, h('p', { class: 'empty panel' }, 'No project yet: create one with “+ Project”.'));
    return;
  }
  fill(main, make(app).root);
}

window.addEventListener('hashchange', show);

(async () => {
  const saved = loadSession();
  if (saved) return start(saved);
  if (await probeDevMode()) return start({ dev: true, project: '' });
  signIn();
})();
