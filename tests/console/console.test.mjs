// End-to-end test of the web console: a real `logport up` (LOGPORT_BIN) loaded with generated
// logs through the HTTP API (signed here with signature v1, independently of the console's v4),
// driven in headless Chromium by playwright-core. Screenshots of each page go to ARTIFACTS.
//
//   LOGPORT_BIN=target/debug/logport ARTIFACTS=tests/console/artifacts node tests/console/console.test.mjs

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const BIN = process.env.LOGPORT_BIN || 'target/debug/logport';
const ARTIFACTS = process.env.ARTIFACTS || 'tests/console/artifacts';
const KEY_ID = 'LTAIconsoletest';
const KEY_SECRET = 'console-secret-0123456789';
const LOGS = 600;
const PER_GROUP = 50;

mkdirSync(ARTIFACTS, { recursive: true });
const dataDir = mkdtempSync(join(tmpdir(), 'logport-console-'));

function startServer(extra = []) {
  const child = spawn(BIN, ['up', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`logport exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      const address = line.split('http://')[1]?.split(/\s/)[0];
      if (!address) reject(new Error(`unexpected first line ${line}`));
      resolve({ child, address });
    });
  });
}

/** An SLS client signing with v1 (HMAC-SHA1, Content-MD5), as the official SDK does. */
function client(address, project) {
  return async function call(method, path, { params = {}, body } = {}) {
    const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const headers = { 'x-log-apiversion': '0.6.0', 'x-log-signaturemethod': 'hmac-sha1', 'x-log-bodyrawsize': String(bytes.length) };
    if (project) headers['x-log-project'] = project;
    if (bytes.length) {
      headers['content-type'] = 'application/json';
      headers['content-md5'] = createHash('md5').update(bytes).digest('hex').toUpperCase();
    }
    const date = new Date().toUTCString();
    headers['x-log-date'] = date;
    const logHeaders = Object.keys(headers).filter((name) => name.startsWith('x-log-') && name !== 'x-log-date').sort();
    const keys = Object.keys(params).sort();
    const resource = path + (keys.length ? '?' + keys.map((key) => `${key}=${params[key]}`).join('&') : '');
    const toSign = [method, headers['content-md5'] || '', headers['content-type'] || '', date, ...logHeaders.map((n) => `${n}:${headers[n]}`), resource].join('\n');
    headers.authorization = `LOG ${KEY_ID}:${createHmac('sha1', KEY_SECRET).update(toSign).digest('base64')}`;
    const query = keys.map((key) => `${encodeURIComponent(key)}=${encodeURIComponent(params[key])}`).join('&');
    const response = await fetch(`http://${address}${path}${query ? '?' + query : ''}`, { method, headers, body: bytes.length ? bytes : undefined });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw Object.assign(new Error(`${method} ${path}: ${response.status} ${text}`), { data });
    return data;
  };
}

const step = (text) => console.log(`--- ${text}`);
const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

async function loadData(api) {
  await api('POST', '/', { body: { projectName: 'demo', description: 'console test' } });
  await api('POST', '/logstores', { body: { logstoreName: 'web', ttl: 30, shardCount: 2 } });
  // A shipping rule (it ships what arrives after it) whose bucket directory does not exist yet:
  // its tasks fail.
  await api('POST', '/logstores/web/shipper', { body: { shipperName: 'archive', targetType: 'oss', targetConfiguration: {
    ossBucket: 'archive', ossPrefix: 'web', roleArn: 'acs:ram::1:role/ship', bufferInterval: 300, bufferSize: 64,
    compressType: 'none', pathFormat: '%Y/%m/%d/%H%M', storage: { format: 'json' } } } });
  const now = Math.floor(Date.now() / 1000);
  // 600 logs over the last 10 minutes, 12 groups; status 500 on every 5th (120 logs).
  for (let start = 0; start < LOGS; start += PER_GROUP) {
    const logs = [];
    for (let i = start; i < start + PER_GROUP; i++) {
      logs.push({
        __time__: now - 600 + i,
        seq: String(i),
        status: ['500', '200', '200', '404', '200'][i % 5],
        method: i % 2 ? 'GET' : 'POST',
        url: `/api/items/${i}`,
        message: i % 5 === 0 ? `upstream timeout after ${i} ms` : 'ok',
      });
    }
    await api('POST', '/logstores/web/shards/lb', { body: { __topic__: 'nginx', __source__: '10.0.0.7', __logs__: logs } });
  }
  // A consumer group with a checkpoint on shard 0 at position 1.
  await api('POST', '/logstores/web/consumergroups', { body: { consumerGroup: 'siem', timeout: 60, order: false } });
  await api('POST', '/logstores/web/consumergroups/siem', { params: { type: 'heartbeat', consumer: 'c1' }, body: [] });
  await api('POST', '/logstores/web/consumergroups/siem', { params: { type: 'checkpoint', consumer: 'c1', forceSuccess: 'True' }, body: { shard: 0, checkpoint: Buffer.from('1').toString('base64') } });
}

/** Starts `logport agent run` in central mode as user-defined identity `host-a` of project demo. */
function startAgent(address) {
  const dir = join(dataDir, 'agent');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'agent.toml');
  writeFileSync(config, [
    '[service]', `endpoint = "http://${address}"`, 'project = "demo"', `access_key_id = "${KEY_ID}"`, `access_key_secret = "${KEY_SECRET}"`, '',
    '[agent]', `state_dir = ${JSON.stringify(join(dir, 'state'))}`, 'poll_ms = 50', 'batch_ms = 200', 'central = true',
    'user_defined_id = "host-a"', 'config_poll_ms = 500', '',
  ].join('\n'));
  return spawn(BIN, ['agent', 'run', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } });
}

async function agentsSteps(page, api, address) {
  const logDir = join(dataDir, 'app-logs');
  mkdirSync(logDir, { recursive: true });
  await page.click('#nav-agents');
  await page.locator('#group-form').waitFor();
  await page.locator('#groups .empty').waitFor();

  // A bad name is refused with the server's message; then the group is created.
  await page.fill('#new-group', 'x');
  await page.click('#group-form button[type=submit]');
  await page.locator('#create-group-error .error').waitFor();
  assert.match(await page.textContent('#create-group-error'), /machine group name/);
  await page.fill('#new-group', 'web-servers');
  await page.selectOption('#new-group-type', 'userdefined');
  await page.fill('#new-group-machines', 'host-a, host-b');
  await page.click('#group-form button[type=submit]');
  await page.locator('#group-table tr[data-group="web-servers"]').waitFor();
  assert.equal(await page.textContent('#group-table tr[data-group="web-servers"] td.mono'), 'host-a, host-b');

  // A config whose regex does not compile is refused; the fixed one is listed.
  await page.fill('#new-config', 'app-log');
  // Into the logstore the logstores step created, so that `web` keeps its 600 logs.
  await page.selectOption('#new-config-logstore', 'audit');
  await page.fill('#new-config-path', logDir);
  await page.fill('#new-config-pattern', '*.log');
  await page.fill('#new-config-regex', '(\\d+ (.*)');
  await page.fill('#new-config-keys', 'n, msg');
  await page.click('#config-form button[type=submit]');
  await page.locator('#create-config-error .error').waitFor();
  assert.match(await page.textContent('#create-config-error'), /does not compile/);
  await page.fill('#new-config-regex', '(\\d+) (.*)');
  await page.click('#config-form button[type=submit]');
  await page.locator('#config-table tr[data-config="app-log"]').waitFor();
  assert.equal(await page.textContent('#config-table tr[data-config="app-log"] td:nth-child(2)'), 'audit');

  // Applied to the group; the server now answers the group's agents with it.
  await page.selectOption('#apply-config', 'app-log');
  await page.click('#apply');
  await page.locator('#applied-configs li[data-config="app-log"]').waitFor();
  assert.match(await page.textContent('#agents-message'), /Applied app-log to web-servers/);
  await page.waitForFunction(() => document.querySelector('#config-table tr[data-config="app-log"] td.config-groups')?.textContent === 'web-servers');
  await page.waitForFunction(() => document.querySelector('#group-table tr[data-group="web-servers"] td.group-configs')?.textContent === 'app-log');
  await page.locator('#machine-table').waitFor({ state: 'detached' });

  const agent = startAgent(address);
  try {
    const refreshUntil = async (what, done, arg) => {
      for (let i = 0; i < 120; i++) {
        if (await page.evaluate(done, arg).catch(() => false)) return;
        await page.click('#refresh-agents');
        await page.waitForTimeout(500);
      }
      assert.fail(`not reached within 60 s: ${what}`);
    };
    await refreshUntil('the agent has polled', () => document.querySelector('#machine-table tr.machine[data-id="host-a"]'));
    assert.equal(await page.textContent('#machine-table tr.machine[data-id="host-a"] td.state'), 'online');
    assert.match(await page.textContent('#machine-table tr.machine[data-id="host-a"] td.version'), /^\d+\.\d+\.\d+/);

    // The agent runs the config once its status file lists it (the poll that the row shows may
    // be answered a moment before the source starts).
    const statusFile = join(dataDir, 'agent', 'state', 'status.json');
    for (let i = 0; i < 150; i++) {
      let status = {};
      try {
        status = JSON.parse(readFileSync(statusFile, 'utf8'));
      } catch {}
      if ((status.sources || []).some((source) => source.name === 'app-log')) break;
      assert.ok(i < 149, 'the agent did not run the config within 15 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A file the config names, written after the agent runs it: read from its start.
    const lines = 200;
    for (let i = 0; i < lines; i++) appendFileSync(join(logDir, 'app.log'), `${i} agent line ${i}\n`);
    await refreshUntil('the agent tails the file and has caught up', () => {
      const row = document.querySelector('#machine-table tr.machine[data-id="host-a"]');
      return row && row.querySelector('td.files').textContent === '1' && row.querySelector('td.behind').textContent === '0 B';
    });
    const query = "* | select count(*) as c where msg like 'agent line%'";
    let count = 0;
    for (let i = 0; i < 120 && count !== lines; i++) {
      const now = Math.floor(Date.now() / 1000);
      // Until the first line arrives, no log has the column `msg` (an error).
      const answer = await api('POST', '/logstores/audit/logs', { body: { from: now - 900, to: now + 60, query } }).catch(() => null);
      count = answer ? Number(answer.data[0].c) : 0;
      if (count !== lines) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.equal(count, lines, 'every line the agent read is in the logstore, once');
    await shot(page, '11-agents');

    // Removing the config from the group: the list says so, the agent is told at its next poll.
    await page.click('#applied-configs li[data-config="app-log"] .remove-config');
    await page.waitForFunction(() => /Removed app-log from web-servers/.test(document.querySelector('#agents-message')?.textContent || ''));
    await page.locator('#applied-configs').waitFor({ state: 'detached' });
    await shot(page, '12-agents-config-removed');
  } finally {
    agent.kill('SIGTERM');
  }
}

async function run() {
  const { child, address } = await startServer(['--access-key-id', KEY_ID, '--access-key-secret', KEY_SECRET]);
  const api = client(address, 'demo');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    step('load generated logs');
    await loadData(api);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));

    step('GET / redirects a browser to the console; a wrong key is refused with the server message');
    await page.goto(`http://${address}/`);
    assert.match(page.url(), /\/console\/$/);
    await page.fill('#key-id', KEY_ID);
    await page.fill('#key-secret', 'wrong-secret');
    await page.click('#signin');
    await page.locator('#signin-error .error').waitFor();
    assert.match(await page.textContent('#signin-error'), /SignatureNotMatch/);
    await shot(page, '01-signin');
    await page.fill('#key-secret', KEY_SECRET);
    await page.click('#signin');

    step('search: count, histogram, highlighted hits');
    await page.locator('#query').waitFor();
    assert.equal(await page.inputValue('#project'), 'demo');
    assert.equal(await page.inputValue('#logstore'), 'web');
    await page.fill('#query', 'status:500');
    await page.click('#run');
    await page.locator('#hit-count').waitFor();
    await page.locator('#log-table').waitFor();
    assert.equal(await page.textContent('#hit-count'), String(LOGS / 5));
    const counts = await page.$$eval('svg.histogram rect.bar', (bars) => bars.map((bar) => Number(bar.dataset.count)));
    assert.ok(counts.length > 1, `histogram bars: ${counts.length}`);
    assert.equal(counts.reduce((a, b) => a + b, 0), LOGS / 5);
    assert.equal(await page.locator('#log-table tbody tr').count(), 20);
    const marks = await page.$$eval('#log-table mark', (list) => list.map((mark) => mark.textContent));
    assert.ok(marks.length >= 20 && marks.every((text) => text === '500'), `marks: ${marks.slice(0, 5)}`);
    assert.equal(await page.textContent('#page-info'), 'Page 1 of 6');
    // Newest first: the first hit is the last status-500 log.
    assert.match(await page.textContent('#log-table tbody tr:first-child'), new RegExp(`seq: ${LOGS - 5}(?!\\d)`));
    await shot(page, '02-search');

    step('paging');
    await page.click('#next');
    await page.waitForFunction(() => document.querySelector('#page-info')?.textContent === 'Page 2 of 6');
    await page.locator('#log-table').waitFor();
    assert.equal(await page.textContent('#log-table tbody tr:first-child td.num'), '21');
    assert.match(await page.textContent('#log-table tbody tr:first-child'), new RegExp(`seq: ${LOGS - 5 - 20 * 5}(?!\\d)`));

    step('context of a log');
    await page.click('#log-table tbody tr:first-child .context-button');
    await page.locator('#context tr.context-center').waitFor();
    const center = await page.textContent('#context tr.context-center');
    assert.match(center, new RegExp(`seq: ${LOGS - 5 - 20 * 5}(?!\\d)`));
    const contextRows = await page.locator('#context tr').count();
    assert.equal(contextRows, 21, 'ten before, the log, ten after');
    await shot(page, '03-context');
    await page.click('#context-close');

    step('zoom into one histogram bar');
    const bar = await page.$$eval('svg.histogram rect.bar', (bars) => {
      const full = bars.filter((b) => Number(b.dataset.count) > 0);
      const pick = full[Math.floor(full.length / 2)];
      return { count: Number(pick.dataset.count), index: bars.indexOf(pick) };
    });
    await page.locator('svg.histogram rect.bar').nth(bar.index).dispatchEvent('click');
    await page.waitForFunction(() => document.querySelector('#range').value === 'custom');
    await page.waitForFunction((expected) => document.querySelector('#hit-count')?.textContent === String(expected) && document.querySelector('#log-table, #results .empty'), bar.count);

    step('SQL: table and chart');
    await page.selectOption('#range', '900');
    await page.fill('#query', '* | select status, count(*) as n group by status order by status');
    await page.click('#run');
    await page.locator('#sql-chart svg rect.bar').first().waitFor();
    const bars = await page.$$eval('#sql-chart rect.bar', (list) => list.map((b) => [b.dataset.x, Number(b.dataset.y)]));
    assert.deepEqual(bars, [['200', LOGS * 3 / 5], ['404', LOGS / 5], ['500', LOGS / 5]]);
    assert.equal(await page.locator('#sql-table tbody tr').count(), 3);
    // Beside it, the histogram of the search part (`*`: every log).
    await page.waitForFunction((n) => [...document.querySelectorAll('#histogram rect.bar')].reduce((sum, bar) => sum + Number(bar.dataset.count), 0) === n, LOGS);
    await shot(page, '04-sql-bar');
    await page.selectOption('#chart-kind', 'line');
    await page.locator('#sql-chart svg polyline').waitFor();
    assert.equal(await page.locator('#sql-chart circle.point').count(), 3);
    await shot(page, '05-sql-line');

    step('a large SQL result: table pages of 50, chart of the first 500 rows');
    await page.fill('#query', '* | select seq, status order by seq limit 1000');
    await page.click('#run');
    await page.waitForFunction((n) => document.querySelector('#sql-page-info')?.textContent === `Rows 1–50 of ${n}`, LOGS);
    assert.equal(await page.locator('#sql-table tbody tr').count(), 50);
    await page.click('#sql-next');
    await page.waitForFunction((n) => document.querySelector('#sql-page-info')?.textContent === `Rows 51–100 of ${n}`, LOGS);
    const { data: sqlRows } = await api('POST', '/logstores/web/logs', { body: { from: Math.floor(Date.now() / 1000) - 900, to: Math.floor(Date.now() / 1000) + 1, query: '* | select seq, status order by seq limit 1000' } });
    assert.equal(sqlRows.length, LOGS);
    assert.equal(await page.textContent('#sql-table tbody tr:first-child td:first-child'), sqlRows[50].seq);
    assert.equal(await page.locator('#sql-chart rect.bar').count(), 500);
    assert.match(await page.textContent('#sql-chart .note'), /first 500 of 600 rows/);

    step("a bad query shows the server's message next to the query box");
    const bad = '* | select nosuchcolumn from log';
    let expected;
    try {
      await api('POST', '/logstores/web/logs', { body: { from: 0, to: Math.floor(Date.now() / 1000) + 10, query: bad } });
      assert.fail('the bad query was accepted');
    } catch (error) {
      expected = error.data;
    }
    await page.fill('#query', bad);
    await page.click('#run');
    await page.locator('#query-error .error').waitFor();
    const shown = await page.textContent('#query-error');
    assert.ok(shown.includes(expected.errorCode) && shown.includes(expected.errorMessage.slice(0, 60)), `shown: ${shown} expected: ${JSON.stringify(expected)}`);
    await page.fill('#query', 'status:500 and (');
    await page.click('#run');
    await page.waitForFunction(() => /ParameterInvalid/.test(document.querySelector('#query-error')?.textContent || ''));
    await shot(page, '06-bad-query');

    step('shipper: a task that really failed, retried once the bucket exists');
    await page.click('#nav-shipper');
    await page.locator('#flush').waitFor();
    await page.click('#flush');
    await page.locator('#task-table tr.task.fail').first().waitFor();
    const failed = await page.locator('#task-table tr.task.fail').count();
    assert.ok(failed >= 1, 'tasks failed');
    assert.match(await page.textContent('#task-table tr.task.fail .task-error'), /archive/);
    await page.selectOption('#task-status', 'fail');
    await page.waitForFunction((n) => document.querySelectorAll('#task-table tr.task').length === n && document.querySelectorAll('#task-table tr.task.fail').length === n, failed);
    await shot(page, '07-shipper-failed');
    mkdirSync(join(dataDir, 'buckets', 'archive'), { recursive: true });
    await page.selectOption('#task-status', '');
    await page.locator('#task-table').waitFor();
    const retriedId = await page.getAttribute('#task-table tr.task.fail', 'data-id');
    await page.click(`#task-table tr.task.fail[data-id="${retriedId}"] .retry`);
    await page.waitForFunction(() => /Retrying 1 task/.test(document.querySelector('#shipper-message')?.textContent || ''));
    // Polls (with the Refresh button) until `done` holds for the page.
    const until = async (what, done, arg) => {
      for (let i = 0; i < 120; i++) {
        if (await page.evaluate(done, arg).catch(() => false)) return;
        await page.click('#refresh-tasks');
        await page.waitForTimeout(500);
      }
      assert.fail(`not reached within 60 s: ${what}`);
    };
    await until('the retried task succeeds', (id) => document.querySelector(`#task-table tr.task[data-id="${id}"]`)?.classList.contains('success'), retriedId);
    // The scheduler may have retried the others on its own by now; retry all that are still failed.
    if (await page.locator('#task-table tr.task.fail').count()) {
      await page.click('#retry-all');
      await page.waitForFunction(() => /Retrying \d+ task/.test(document.querySelector('#shipper-message')?.textContent || ''));
    }
    await until('no task failed or running', () => / 0 running .* 0 failed/.test(document.querySelector('#task-stats')?.textContent || ''));
    assert.equal(await page.locator('#task-table tr.task.success').count(), failed);
    const ids = await page.$$eval('#task-table tr.task', (rows) => rows.map((row) => row.dataset.id));
    const shipped = readdirSync(join(dataDir, 'buckets', 'archive'), { recursive: true }).map(String);
    for (const id of ids) assert.ok(shipped.some((name) => name.endsWith(id)), `task ${id} shipped nothing: ${shipped}`);
    await shot(page, '08-shipper-retried');

    step('logstores: shards, consumer group checkpoints and lag');
    await page.click('#nav-logstores');
    await page.locator('#logstore-detail .group[data-group="siem"]').waitFor();
    const end = await api('GET', '/logstores/web/shards/0', { params: { type: 'cursor', from: 'end' } });
    const endPosition = Number(Buffer.from(end.cursor, 'base64').toString());
    const lagText = await page.textContent('#logstore-detail .group[data-group="siem"] tr.checkpoint:first-child td.lag');
    assert.equal(lagText, String(endPosition - 1));
    await shot(page, '09-consumer-groups');
    await page.fill('#new-logstore', 'BAD NAME');
    await page.$eval('#new-logstore', (input) => input.removeAttribute('pattern'));
    await page.click('#stores-page button[type=submit]');
    await page.locator('#create-logstore-error .error').waitFor();
    await page.fill('#new-logstore', 'audit');
    await page.click('#stores-page button[type=submit]');
    await page.waitForFunction(() => [...document.querySelectorAll('table.stores td:first-child')].some((td) => td.textContent === 'audit'));
    await shot(page, '10-logstore-created');

    step('agents: a machine group and a config made here reach a real agent (central mode); its status shows');
    await agentsSteps(page, api, address);

    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  } catch (error) {
    for (const open of browser.contexts().flatMap((context) => context.pages())) {
      await open.screenshot({ path: join(ARTIFACTS, 'failure.png'), fullPage: true }).catch(() => {});
      console.error('page text at the failure:\n' + (await open.textContent('main').catch(() => '')));
    }
    throw error;
  } finally {
    await browser.close();
    child.kill('SIGTERM');
  }

  step('dev mode (--insecure-no-auth): no sign-in, same data');
  const dev = await startServer(['--insecure-no-auth']);
  const browser2 = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser2.newPage();
    await page.goto(`http://${dev.address}/console/`);
    await page.locator('#query').waitFor();
    assert.match(await page.textContent('#who'), /dev mode/);
    await page.selectOption('#logstore', 'web');
    await page.selectOption('#range', '3600');
    await page.click('#run');
    await page.waitForFunction((n) => document.querySelector('#hit-count')?.textContent === String(n), LOGS);
    await shot(page, '13-dev-mode');
  } finally {
    await browser2.close();
    dev.child.kill('SIGTERM');
  }
}

try {
  await run();
  console.log('console tests passed');
} finally {
  if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
}
