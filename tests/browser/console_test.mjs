// The web console in a real browser (the console_browser ctest): Debian's chromium, driven by puppeteer-core,
// against the real promoterd on a private PostgreSQL (pg_virtualenv), the fake Railway (production worker) and
// the fake Fly (production api and www). Staging reports and smoke results come as CI sends them
// (POST /v1/staging-deployments, POST /v1/releases/{sha}/smoke-results), so the test decides when a release
// goes live.
//
// The scenario: alice signs in by typing her token; a release she wrote appears and soaks with a live countdown;
// her Approve button is disabled with "you wrote this commit"; bob (another browser context) approves with the
// keyboard; both pages watch the promotion's steps advance without a reload, and the release is promoted. Then:
// the promotions and audit views with paging and the SHA filter, a viewer who sees no action buttons, a forged
// cross-site POST that records nothing, sign-out. Throughout: no console error and no page error on the
// console's pages, and no axe-core violation of impact serious or critical on any view, light and dark.
// Screenshots of each view at 375 px and 1440 px wide are kept in the artifacts directory.
//
// Synchronisation is on observable conditions only (waitForSelector / waitForFunction, polling the API); the
// only timings are generous timeouts.
//
//   node console_test.mjs --promoterd BIN --fake-railway BIN --fake-fly BIN --source DIR --artifacts DIR
//
// Needs PGHOST/PGPORT/PGUSER/PGPASSWORD of a PostgreSQL where it may create a database (pg_virtualenv -t).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------------------------
// Arguments and constants

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`bad arguments near ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const name of ['promoterd', 'fake-railway', 'fake-fly', 'source', 'artifacts']) {
    if (!out[name]) throw new Error(`--${name} is required`);
  }
  return out;
}

const ARGS = args();
const CHROMIUM = process.env.PROMOTER_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = ARGS.artifacts;
// Under the directory the C++ e2e tests use, with given-secrets beside promoterd.log, so the secrets_not_emitted
// test greps this daemon's output too.
const WORK = path.join(os.tmpdir(), 'promoter-tests', 'console_browser');
const WAIT = 60_000; // generous: a slow machine waits longer, a fast one no longer than needed
const SOAK = '15s'; // short (allow_short_soak), yet long enough that even the 5 s fallback re-read shows it running
const WIDTHS = [375, 1440];
const ENVIRONMENT = 'production';

const token = (who) => `${who}-${crypto.randomBytes(18).toString('base64url')}`;
const TOKENS = { alice: token('alice'), bob: token('bob'), ci: token('ci'), viewer: token('viewer') };
const RAILWAY_TOKEN = token('railway');
const FLY_TOKEN = token('fly');
const randomSha = () => crypto.randomBytes(20).toString('hex');
const SHA = randomSha(); // alice-gh's release: soaks, bob approves, it is promoted
const SHA2 = randomSha(); // dana's release: the target of the forged cross-site approval

// ---------------------------------------------------------------------------------------------------------------
// Processes: every one is killed in after(), and at exit whatever happens.

const children = [];

function startProcess(name, bin, argv, env) {
  const log = path.join(WORK, `${name}.log`);
  const fd = fs.openSync(log, 'a');
  const child = spawn(bin, argv, { env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const entry = { name, child, log, exited: null };
  child.on('exit', (code, signal) => { entry.exited = { code, signal }; });
  children.push(entry);
  return entry;
}

async function stopProcess(entry) {
  if (entry.exited || entry.child.exitCode !== null || entry.child.signalCode !== null) return;
  const gone = new Promise((resolve) => entry.child.once('exit', resolve));
  entry.child.kill('SIGTERM');
  const timer = setTimeout(() => entry.child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}

process.on('exit', () => {
  for (const { child } of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  if (browser && browser.process()) browser.process().kill('SIGKILL');
});

// Polls `probe` until it returns something truthy; fails after `timeout` saying `what`.
async function until(what, probe, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // poll interval, not a synchronisation
  }
}

// The port in the "listening 127.0.0.1:PORT" line a fake prints first, or in promoterd's JSON log line
// {"msg":"promoterd listening","address":"http://127.0.0.1:PORT",...}.
async function listeningPort(entry) {
  return until(`${entry.name} to listen`, () => {
    if (entry.exited) throw new Error(`${entry.name} exited (${JSON.stringify(entry.exited)}):\n${fs.readFileSync(entry.log, 'utf8')}`);
    for (const line of fs.readFileSync(entry.log, 'utf8').split('\n')) {
      const fake = line.match(/^listening 127\.0\.0\.1:(\d+)$/);
      if (fake) return Number(fake[1]);
      if (!line.startsWith('{')) continue;
      const record = JSON.parse(line);
      if (record.msg === 'promoterd listening') return Number(new URL(record.address).port);
    }
    return null;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// promoterd's API, as CI and as people with bearer tokens

let base = ''; // http://127.0.0.1:PORT

async function call(method, route, who, body) {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { Authorization: `Bearer ${TOKENS[who]}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${method} ${route} as ${who}: ${response.status} ${text}`);
  return data;
}

const release = (sha) => call('GET', `/v1/releases/${sha}`, 'viewer');

async function stage(sha, author, status) {
  for (const service of ['worker', 'api', 'www']) {
    await call('POST', '/v1/staging-deployments', 'ci',
      { service, sha, deployment_id: `dep-${service}-${sha.slice(0, 8)}`, status, author });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The world: database, fakes, promoterd, the attacker's server

let railway;
let fly;
let daemon;
let attacker;
let attackerPort;

function config(railwayPort, flyPort) {
  return `# The console_browser test's promoterd (tests/browser/console_test.mjs).
environment = "${ENVIRONMENT}"

[server]
listen = "127.0.0.1:0"

[database]
url_env = "PROMOTER_DATABASE_URL"

[policy]
soak = "${SOAK}"
allow_short_soak = true
require_smoke = true
required_smoke_suites = ["e2e"]
approvals_required = 1

[railway]
endpoint = "http://127.0.0.1:${railwayPort}/graphql/v2"
token_env = "PROMOTER_WEB_RAILWAY_TOKEN"
poll_interval = "500ms"

[fly]
endpoint = "http://127.0.0.1:${flyPort}/v1"
token_env = "PROMOTER_WEB_FLY_TOKEN"
poll_interval = "200ms"

[migrations]
provider = "simulated"

[simulation]
record_file = "${path.join(WORK, 'simulated-effects.jsonl')}"
step_delay = "2s"

# Staging is reported by CI (no provider): the test decides when a release goes live.
[[services]]
name = "worker"
restart_order = 1
production = { provider = "railway", project_id = "proj-web", environment_id = "env-production", service_id = "svc-worker-prod" }

[[services]]
name = "api"
restart_order = 2
production = { provider = "fly", app = "rotor-api", image = "registry.fly.io/rotor-api:{sha}" }

[[services]]
name = "www"
restart_order = 3
production = { provider = "fly", app = "rotor-www", image = "registry.fly.io/rotor-www:{sha}" }

[[auth.tokens]]
identity = "alice"
role = "operator"
token_env = "T_ALICE"
git_authors = ["alice-gh"]

[[auth.tokens]]
identity = "bob"
role = "operator"
token_env = "T_BOB"
git_authors = ["bob-gh"]

[[auth.tokens]]
identity = "ci-bot"
role = "ci"
token_env = "T_CI"

[[auth.tokens]]
identity = "dashboard"
role = "viewer"
token_env = "T_VIEWER"
`;
}

async function startWorld() {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });

  // A fresh database on the private cluster pg_virtualenv made.
  const database = `promoter_console_browser_${process.pid}`;
  for (const sql of [`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, `CREATE DATABASE ${database}`]) {
    const psql = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c', sql], { encoding: 'utf8' });
    if (psql.status !== 0) {
      throw new Error(`psql could not create the test database (run under pg_virtualenv -t): ${psql.stderr || psql.error}`);
    }
  }

  // The promotion's pace: migrate 2 s (simulated), worker about 3 s (6 reads of the Railway deployment, 500 ms
  // apart), api 10 s (two Fly machines, 2.5 s to start and 2.5 s to pass checks each), www 5 s. No step lasts
  // more than 10 s and the plan about 20 s, so even a page re-reading every 5 s sees it at least four times, and
  // two of those must differ: the steps are seen to advance whichever way the page is updated.
  railway = startProcess('fake-railway', ARGS['fake-railway'],
    ['--port', '0', '--token', RAILWAY_TOKEN, '--deploy-reads', '6'], process.env);
  fly = startProcess('fake-fly', ARGS['fake-fly'],
    ['--port', '0', '--token', FLY_TOKEN, '--start-delay-ms', '2500', '--checks-delay-ms', '2500',
      '--app', 'rotor-api:2:registry.fly.io/rotor-api:initial', '--app', 'rotor-www:1:registry.fly.io/rotor-www:initial'],
    process.env);
  const railwayPort = await listeningPort(railway);
  const flyPort = await listeningPort(fly);

  const configPath = path.join(WORK, 'promoter.toml');
  fs.writeFileSync(configPath, config(railwayPort, flyPort));
  const env = {
    ...process.env,
    PROMOTER_DATABASE_URL: `dbname=${database}`,
    PROMOTER_WEB_RAILWAY_TOKEN: RAILWAY_TOKEN,
    PROMOTER_WEB_FLY_TOKEN: FLY_TOKEN,
    T_ALICE: TOKENS.alice, T_BOB: TOKENS.bob, T_CI: TOKENS.ci, T_VIEWER: TOKENS.viewer,
  };
  const check = spawnSync(ARGS.promoterd, ['--config', configPath, '--check'], { env, encoding: 'utf8' });
  assert.equal(check.status, 0, `promoterd --check refused the test's config:\n${check.stdout}${check.stderr}`);

  fs.writeFileSync(path.join(WORK, 'given-secrets'), `${[...Object.values(TOKENS), RAILWAY_TOKEN, FLY_TOKEN].join('\n')}\n`);
  daemon = startProcess('promoterd', ARGS.promoterd, ['--config', configPath], env);
  const port = await listeningPort(daemon);
  base = `http://127.0.0.1:${port}`;
  await until('promoterd to be ready', async () => (await fetch(`${base}/readyz`)).ok);

  // The console promoterd serves is the one in this source tree (the build embeds it): a stale build would
  // otherwise test yesterday's page.
  const page = await (await fetch(`${base}/ui/`)).text();
  for (const [file, pattern] of [['console.js', /src="(console-[0-9a-f]{12}\.js)"/], ['console.css', /href="(console-[0-9a-f]{12}\.css)"/]]) {
    const served = page.match(pattern);
    assert.ok(served, `the console page links ${file} by a hashed name`);
    const body = await (await fetch(`${base}/ui/${served[1]}`)).text();
    assert.equal(body, fs.readFileSync(path.join(ARGS.source, 'daemon/console/web', file), 'utf8'),
      `promoterd serves another ${file} than daemon/console/web/${file}: rebuild promoterd`);
  }

  // Another origin (same host, another port: the same site, so the SameSite=Strict cookie IS sent, and only the
  // CSRF token and the Origin check stand between the page and a write).
  attacker = http.createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><meta charset="utf-8"><title>cute cats</title>
<form id="f" method="POST" enctype="text/plain" action="${base}/v1/releases/${SHA2}/approve">
<input name='{"reason":"forged","x":"' value='"}'></form>
<script>
fetch(${JSON.stringify(`${base}/v1/releases/${SHA2}/approve`)}, { method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ reason: 'forged by fetch' }) })
  .then(() => { document.title = 'fetch sent'; }, () => { document.title = 'fetch failed'; });
</script>`);
  });
  await new Promise((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerPort = attacker.address().port;

  // While GET /v1/events is not served yet, the page falls back to polling and the browser logs the refused
  // stream as a console error: the only console error tolerated then (see consoleErrors()).
  eventsServed = await new Promise((resolve) => {
    const request = http.get(`${base}/v1/events`, { headers: { Authorization: `Bearer ${TOKENS.viewer}` } }, (response) => {
      resolve(response.statusCode === 200 && String(response.headers['content-type']).startsWith('text/event-stream'));
      response.destroy();
    });
    request.on('error', () => resolve(false));
  });
  console.log(`# promoterd ${base}; GET /v1/events ${eventsServed ? 'is served' : 'is not served yet: the page polls every 5 s'}`);
}

let eventsServed = false;

async function stopWorld() {
  if (browser) {
    await Promise.race([browser.close(), new Promise((resolve) => setTimeout(resolve, 10_000))]).catch(() => {});
    if (browser.process() && browser.process().exitCode === null) browser.process().kill('SIGKILL');
  }
  if (attacker) attacker.close();
  for (const entry of [...children].reverse()) await stopProcess(entry);
  for (const entry of children) {
    if (fs.existsSync(entry.log)) fs.copyFileSync(entry.log, path.join(ARTIFACTS, path.basename(entry.log)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The browser

let browser;
const pageErrors = []; // {who, type, text, url}: console errors and uncaught exceptions of the console's pages

// A person in a browser context of their own (their own cookie jar). With refuseEvents, GET /v1/events is
// answered 503 in that browser, as when the stream is not served or is cut: the page must fall back to polling.
const refusedStream = new Set();

async function person(who, { refuseEvents = false } = {}) {
  const context = await browser.createBrowserContext();
  const page = await watched(await context.newPage(), who);
  if (refuseEvents) {
    refusedStream.add(who);
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/v1/events') {
        request.respond({ status: 503, contentType: 'application/json',
          body: '{"error":{"code":"unavailable","message":"refused by the browser test"}}' });
      } else {
        request.continue();
      }
    });
  }
  return page;
}

// A console page whose console errors and uncaught exceptions are collected.
async function watched(page, who) {
  await page.setViewport({ width: 1440, height: 900 });
  page.setDefaultTimeout(WAIT);
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push({ who, type: 'console', text: message.text(), url: message.location().url || '' });
  });
  page.on('pageerror', (error) => pageErrors.push({ who, type: 'pageerror', text: String(error.message || error), url: '' }));
  page.__navigations = 0;
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) page.__navigations += 1; });
  return page;
}

async function signIn(page, who, identity) {
  await page.goto(`${base}/ui/`);
  await page.waitForSelector('#token', { visible: true });
  await page.type('#token', TOKENS[who]);
  await page.keyboard.press('Enter');
  await page.waitForFunction((name) => document.querySelector('#who').textContent.includes(name), {}, identity);
  await page.waitForSelector('#nav:not([hidden])');
  await page.waitForSelector('#view-title');
}

// Follows one of the console's own links with a click (pushState, no reload) and waits for the view whose
// heading matches `title` (a RegExp) to have its data.
async function follow(page, selector, title) {
  await page.click(selector);
  await page.waitForFunction((source) => {
    const h = document.querySelector('#view-title');
    return h && new RegExp(source).test(h.textContent) && !document.querySelector('#view [role="status"]');
  }, {}, title.source);
}

async function shoot(page, name, { fullPage = true } = {}) {
  for (const width of WIDTHS) {
    await page.setViewport({ width, height: width < 600 ? 812 : 900 });
    // The layout settles on the next frame; wait for it rather than for time.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${width}.png`), fullPage });
  }
  await page.setViewport({ width: 1440, height: 900 });
}

// axe-core is evaluated through the DevTools protocol (Runtime.evaluate), which the page's CSP does not govern:
// an injected <script> would be refused by script-src 'self', and bypassing the CSP would test another page than
// the one users get.
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

async function accessible(page, name) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary || ''}`) }));
  });
  fs.writeFileSync(path.join(ARTIFACTS, `axe-${name}.json`), JSON.stringify(violations, null, 2));
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `axe-core on ${name}: ${JSON.stringify(serious, null, 2)}`);
}

async function accessibleAtBothWidths(page, name) {
  for (const width of WIDTHS) {
    await page.setViewport({ width, height: width < 600 ? 812 : 900 });
    await accessible(page, `${name}-${width}`);
  }
  await page.setViewport({ width: 1440, height: 900 });
}

const actionButtons = (page) => page.$$eval('#view button[data-action], #view .actions', (nodes) => nodes.length);

// Requests the test makes fail on purpose (who, path): the browser notes each refusal as a console error.
const refusalsAskedFor = [];

// Console errors of the console's pages. The browser's own note of a refused request is tolerated where the test
// asked for the refusal, and for the event stream where the test refused it or while promoterd does not serve
// /v1/events (the page handles both by polling).
function consoleErrors() {
  const asked = [...refusalsAskedFor];
  const refused = (e) => {
    if (e.type !== 'console' || !/^Failed to load resource/.test(e.text)) return false;
    const where = new URL(e.url || 'about:blank').pathname;
    if (where === '/v1/events' && (!eventsServed || refusedStream.has(e.who))) return true;
    const i = asked.findIndex((r) => r.who === e.who && r.path === where);
    return i >= 0 && Boolean(asked.splice(i, 1));
  };
  return pageErrors.filter((e) => !refused(e));
}

// ---------------------------------------------------------------------------------------------------------------
// The scenario: each step builds on the one before; once one fails the rest are skipped.

let alice;
let bob;
let viewer;
let failed = false;

before(async () => {
  await startWorld();
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No sandbox: CI runs as root, where chromium refuses to start with one. The browser only visits 127.0.0.1.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--no-default-browser-check', '--password-store=basic'],
  });
});

after(async () => {
  fs.writeFileSync(path.join(ARTIFACTS, 'console-errors.json'),
    JSON.stringify({ unexpected: consoleErrors(), all: pageErrors }, null, 2));
  await stopWorld();
});

test('the web console drives a release to production in a real browser', { timeout: 280_000 }, async (t) => {
  const step = (name, fn) => t.test(name, { skip: failed ? 'an earlier step failed' : false }, async () => {
    try {
      await fn();
    } catch (error) {
      failed = true;
      for (const [who, page] of Object.entries({ alice, bob, viewer })) {
        if (page) await page.screenshot({ path: path.join(ARTIFACTS, `failure-${who}.png`), fullPage: true }).catch(() => {});
      }
      throw error;
    }
  });

  await step('alice signs in by typing her token into the form', async () => {
    alice = await person('alice');
    await alice.goto(`${base}/ui/`);
    await alice.waitForSelector('#sign-in:not([hidden]) #token');
    await accessible(alice, 'sign-in');
    await signIn(alice, 'alice', 'alice');
    assert.equal(await alice.$eval('#view-title', (h) => h.textContent), 'Overview');
    const nav = await alice.$$eval('#nav a', (links) => links.map((a) => [a.textContent, a.getAttribute('href')]));
    assert.deepEqual(nav, [['Overview', './'], ['Promotions', '?view=promotions'], ['Audit', '?view=audit']]);
  });

  await step('a link opened in a new tab shows its view signed in; the skip link comes first, focus visible', async () => {
    const tab = await watched(await alice.browserContext().newPage(), 'alice');
    await tab.goto(`${base}/ui/?view=promotions`);
    await tab.waitForFunction(() => document.querySelector('#view-title')?.textContent === 'Promotions' &&
      !document.querySelector('#view [role="status"]'));
    assert.equal(await tab.$eval('#nav a[aria-current="page"]', (a) => a.textContent), 'Promotions');
    await tab.keyboard.press('Tab');
    const focused = await tab.evaluate(() => {
      const a = document.activeElement;
      return { skip: a.classList.contains('skip'), outline: getComputedStyle(a).outlineStyle };
    });
    assert.deepEqual(focused, { skip: true, outline: 'solid' });
    await tab.keyboard.press('Enter');
    assert.equal(await tab.evaluate(() => document.activeElement.id), 'main');
    await tab.keyboard.press('Tab');
    assert.equal(await tab.evaluate(() => document.activeElement.id), 'page-size', 'then the first control of the view');
    await tab.close();
  });

  await step('a release alice wrote appears, goes live and soaks with a live countdown', async () => {
    await stage(SHA, 'alice-gh', 'BUILDING');
    await alice.waitForSelector(`article[data-sha="${SHA}"][data-state="deploying"]`);
    await stage(SHA, 'alice-gh', 'SUCCESS');
    await call('POST', `/v1/releases/${SHA}/smoke-results`, 'ci', { suite: 'e2e', passed: true, details: 'browser test' });
    const card = `article[data-sha="${SHA}"]`;
    await alice.waitForSelector(`${card}[data-state="soaking"] [data-gate="soak"] .countdown`);
    const first = await alice.$eval(`${card} .countdown`, (n) => n.textContent);
    assert.match(first, /^\d+s left$/);
    // It ticks in the page, between re-reads.
    await alice.waitForFunction((selector, text) => {
      const node = document.querySelector(selector);
      return node && node.textContent !== text && /^\d+s left$/.test(node.textContent) &&
        parseInt(node.textContent, 10) < parseInt(text, 10);
    }, {}, `${card} .countdown`, first);
    await alice.waitForSelector(`${card} [data-gate="smoke"].ok`);
  });

  await step("the author's Approve button is disabled, saying why", async () => {
    const card = `article[data-sha="${SHA}"]`;
    const approve = await alice.$eval(`${card} button[data-action="approve"]`, (button) => {
      const why = document.getElementById(button.getAttribute('aria-describedby'));
      const box = why ? why.getBoundingClientRect() : null;
      return { disabled: button.disabled, why: why ? why.textContent : null, visible: Boolean(box && box.height > 0) };
    });
    assert.deepEqual(approve, { disabled: true, why: 'Approve: you wrote this commit.', visible: true });
    await shoot(alice, 'overview');
    await accessibleAtBothWidths(alice, 'overview');
  });

  await step('the release page shows staging, smoke, gates and the audit trail', async () => {
    await follow(alice, `article[data-sha="${SHA}"] h3 a`, /^Release [0-9a-f]{12}$/);
    assert.equal(new URL(alice.url()).search, `?release=${SHA}`);
    await alice.waitForSelector(`#view [data-sha="${SHA}"]`);
    const text = await alice.$eval('#view', (v) => v.textContent);
    for (const expected of ['Staging deployments', 'dep-worker-', 'e2e', 'browser test', 'Audit trail', 'Promotion journal']) {
      assert.ok(text.includes(expected), `the release page shows ${expected}`);
    }
    assert.ok(await alice.$$eval('#view [data-audit]', (rows) => rows.length) > 0, 'the release has audit entries');
    await shoot(alice, 'release');
    await accessibleAtBothWidths(alice, 'release');
  });

  await step('a dangerous action asks for a reason and the SHA prefix before it enables', async () => {
    await alice.click(`button[data-action="hotfix"]`);
    await alice.waitForSelector('#action-dialog[open]');
    const confirmDisabled = () => alice.$eval('#action-confirm', (b) => b.disabled);
    assert.equal(await confirmDisabled(), true);
    await alice.type('#action-reason', 'checkout is down');
    await alice.type('#action-incident_url', 'https://status.example.com/incidents/1');
    assert.equal(await confirmDisabled(), true, 'no SHA typed yet');
    const wrong = `${SHA[0] === 'f' ? 'e' : 'f'}${SHA.slice(1, 7)}`;
    await alice.type('#action-typed', wrong);
    assert.equal(await confirmDisabled(), true, 'a wrong prefix keeps it disabled');
    await alice.$eval('#action-typed', (input) => { input.value = ''; });
    await alice.type('#action-typed', SHA.slice(0, 6));
    assert.equal(await confirmDisabled(), true, 'six digits are not enough');
    await alice.type('#action-typed', SHA.slice(6, 7));
    assert.equal(await confirmDisabled(), false, 'seven digits of the SHA enable it');
    await shoot(alice, 'dialog', { fullPage: false }); // a modal: what the screen shows
    await accessibleAtBothWidths(alice, 'dialog');
    await alice.keyboard.press('Escape');
    await alice.waitForSelector('#action-dialog:not([open])');
    await alice.waitForFunction(() => document.activeElement.dataset.action === 'hotfix'); // focus returns to the button
    assert.equal((await release(SHA)).hotfix, null, 'cancelled: no hotfix recorded');
    await follow(alice, '#nav a[data-nav="overview"]', /^Overview$/);
  });

  await step('bob, in another browser, approves with the keyboard; the steps advance live; the release is promoted', async () => {
    // alice's page follows the event stream; bob's browser refuses it, so his page re-reads every 5 s.
    bob = await person('bob', { refuseEvents: true });
    await signIn(bob, 'bob', 'bob');
    await bob.waitForSelector('#live[data-live="polling"]');
    if (eventsServed) await alice.waitForSelector('#live[data-live="stream"]');
    // From here on neither page is reloaded or navigated: a marker in each window would not survive a reload.
    const watch = (page) => page.evaluate(() => {
      window.stepLog = [];
      window.noReload = true;
      const snapshot = () => [...document.querySelectorAll('#in-flight [data-step]')]
        .map((n) => `${n.dataset.step}=${n.dataset.stepState}`).join(' ');
      const record = () => {
        const now = snapshot();
        if (now && window.stepLog[window.stepLog.length - 1] !== now) window.stepLog.push(now);
      };
      new MutationObserver(record).observe(document.getElementById('view'), { subtree: true, childList: true, attributes: true });
      record();
    });
    await watch(alice);
    await watch(bob);
    const navigations = { alice: alice.__navigations, bob: bob.__navigations };

    const approve = `article[data-sha="${SHA}"] button[data-action="approve"]:not([disabled])`;
    await bob.waitForSelector(approve);
    if ((await release(SHA)).approvers) {
      // promoterd says who may approve; the page shows it.
      await bob.waitForFunction((sha) => document.querySelector(`article[data-sha="${sha}"] [data-gate="approval"]`)
        .textContent.includes('Can still approve: bob. May not: alice (wrote this commit).'), {}, SHA);
    }
    await bob.focus(approve);
    await bob.keyboard.press('Enter');
    await bob.waitForSelector('#action-dialog[open]');
    assert.equal(await bob.evaluate(() => document.activeElement.id), 'action-reason');
    assert.equal(await bob.$eval('#action-confirm', (b) => b.disabled), true, 'no reason yet');
    await bob.keyboard.type('looks good in staging');
    await bob.keyboard.press('Tab'); // Cancel
    await bob.keyboard.press('Tab'); // Approve
    assert.equal(await bob.evaluate(() => document.activeElement.id), 'action-confirm');
    await bob.keyboard.press('Enter');
    await bob.waitForSelector('#action-dialog:not([open])');
    const approved = await release(SHA);
    assert.deepEqual(approved.approvals.map((a) => [a.by, a.reason]), [['bob', 'looks good in staging']]);

    for (const page of [alice, bob]) await page.waitForSelector(`[data-production="${SHA}"]`, { timeout: 150_000 });
    assert.equal((await release(SHA)).state, 'promoted');
    for (const [who, page] of [['alice', alice], ['bob', bob]]) {
      const log = await page.evaluate(() => (window.noReload ? window.stepLog : null));
      assert.ok(log, `${who}'s page was reloaded`);
      assert.equal(page.__navigations, navigations[who], `${who}'s page navigated`);
      fs.writeFileSync(path.join(ARTIFACTS, `steps-seen-by-${who}.json`), JSON.stringify(log, null, 2));
      // Some step was seen not finished, then finished, in the same page.
      const states = log.map((line) => Object.fromEntries(line.split(' ').map((s) => s.split('='))));
      const advanced = states.some((earlier, i) => Object.entries(earlier).some(([name, state]) =>
        state !== 'succeeded' && states.slice(i + 1).some((later) => later[name] === 'succeeded')));
      assert.ok(log.length >= 2 && advanced, `${who} saw the steps advance: ${JSON.stringify(log)}`);
    }
  });

  await step('a forged cross-site POST is refused and records nothing', async () => {
    await stage(SHA2, 'dana-gh', 'SUCCESS');
    const forged = await bob.browserContext().newPage(); // bob's cookie jar: the request carries his session
    await forged.goto(`http://127.0.0.1:${attackerPort}/`);
    await forged.waitForFunction(() => document.title !== 'cute cats');
    assert.equal(await forged.title(), 'fetch sent', 'the no-cors fetch went out (its answer is opaque)');
    await Promise.all([forged.waitForNavigation(), forged.$eval('#f', (form) => form.submit())]);
    // Chromium shows a JSON answer in its viewer: take the object out of the text.
    const shown = await forged.$eval('body', (b) => b.innerText);
    const answer = JSON.parse(shown.slice(shown.indexOf('{'), shown.lastIndexOf('}') + 1));
    assert.equal(answer.error.code, 'csrf_failed', `promoterd's answer to the forged form: ${JSON.stringify(answer)}`);
    await forged.close();
    assert.deepEqual((await release(SHA2)).approvals, [], 'no approval recorded');
    const audit = await call('GET', `/v1/audit?sha=${SHA2}`, 'viewer');
    assert.ok(!audit.entries.some((e) => e.action === 'release.approved'), 'no approval audited');
  });

  await step('the promotions view lists the promotion, newest first', async () => {
    await follow(alice, '#nav a[data-nav="promotions"]', /^Promotions$/);
    assert.equal(await alice.$eval('#nav a[aria-current="page"]', (a) => a.textContent), 'Promotions');
    const row = await alice.$eval('#view tr[data-promotion]', (tr) => ({ text: tr.textContent, links: [...tr.querySelectorAll('a')].map((a) => a.getAttribute('href')) }));
    assert.ok(row.text.includes('succeeded') && row.links.includes(`?release=${SHA}`), JSON.stringify(row));
    await shoot(alice, 'promotions');
    await accessibleAtBothWidths(alice, 'promotions');
    // A promotion's own page, from its id.
    await follow(alice, '#view tr[data-promotion] td:first-child a', /^Promotion \d+$/);
    await alice.waitForSelector('#view tr[data-step-state="succeeded"]');
    await accessible(alice, 'promotion-1440');
  });

  await step('the audit view pages with the cursor and filters by a SHA prefix', async () => {
    await follow(alice, '#nav a[data-nav="audit"]', /^Audit$/);
    await shoot(alice, 'audit');
    await accessibleAtBothWidths(alice, 'audit');
    const total = (await call('GET', '/v1/audit?limit=1000', 'viewer')).entries.length;
    assert.ok(total > 10, `enough audit entries to page (${total})`);
    await alice.select('#page-size', '10');
    await alice.waitForFunction(() => location.search === '?view=audit&limit=10' && document.querySelectorAll('#view tr[data-audit]').length === 10);
    const firstPage = await alice.$$eval('#view tr[data-audit]', (rows) => rows.map((r) => r.dataset.audit));
    await alice.click('#view nav.pager a:last-child');
    await alice.waitForFunction(() => new URLSearchParams(location.search).has('before'));
    await alice.waitForFunction((ids) => {
      const now = [...document.querySelectorAll('#view tr[data-audit]')].map((r) => r.dataset.audit);
      return now.length > 0 && !now.some((id) => ids.includes(id));
    }, {}, firstPage);
    const older = await alice.$$eval('#view tr[data-audit]', (rows) => rows.map((r) => Number(r.dataset.audit)));
    assert.ok(Math.max(...older) < Math.min(...firstPage.map(Number)), 'the next page is older');
    assert.ok(await alice.$('#view nav.pager a'), 'a link back to the newest entries');
    // Browser history: back to the first page (popstate, still no reload).
    await alice.evaluate(() => history.back());
    await alice.waitForFunction((ids) => !new URLSearchParams(location.search).has('before') &&
      [...document.querySelectorAll('#view tr[data-audit]')].map((r) => r.dataset.audit).join() === ids.join(), {}, firstPage);
    // Filter by a prefix, as tables print SHAs: the page resolves it to the full SHA.
    await alice.type('#audit-sha', SHA.slice(0, 12));
    await alice.keyboard.press('Enter');
    await alice.waitForFunction((sha) => new URLSearchParams(location.search).get('sha') === sha &&
      document.querySelectorAll('#view tr[data-audit]').length > 0, {}, SHA);
    const api = await call('GET', `/v1/audit?sha=${SHA}&limit=10`, 'viewer');
    const shown = await alice.$$eval('#view tr[data-audit]', (rows) => rows.map((r) => Number(r.dataset.audit)));
    assert.deepEqual(shown, api.entries.map((e) => e.id));
    // A prefix that names no release says so, next to the field.
    const unknown = ['0000', '1111', '2222'].find((p) => !SHA.startsWith(p) && !SHA2.startsWith(p));
    await alice.$eval('#audit-sha', (input) => { input.value = ''; });
    await alice.type('#audit-sha', unknown);
    await alice.keyboard.press('Enter');
    await alice.waitForFunction(() => document.querySelector('#audit-sha-error').textContent.includes('no release matches'));
  });

  await step('alice stops the line and lifts it; a refused rollback shows promoterd\'s reason in its dialog', async () => {
    await follow(alice, '#nav a[data-nav="overview"]', /^Overview$/);
    const card = `article[data-sha="${SHA2}"]`;
    await alice.waitForSelector(`${card} [data-gate="freeze"].ok`);
    await alice.click('button[data-action="freeze"]');
    await alice.waitForSelector('#action-dialog[open]');
    await alice.type('#action-reason', 'database failover');
    await alice.type('#action-typed', ENVIRONMENT.slice(0, 4));
    assert.equal(await alice.$eval('#action-confirm', (b) => b.disabled), true, 'part of the name is not enough');
    await alice.type('#action-typed', ENVIRONMENT.slice(4));
    assert.equal(await alice.$eval('#action-confirm', (b) => b.disabled), false, 'the environment name enables it');
    await alice.click('#action-confirm');
    await alice.waitForSelector('#action-dialog:not([open])');
    await alice.waitForSelector(`${card} [data-gate="freeze"].bad`);
    assert.equal((await call('GET', '/v1/freezes', 'viewer')).line_stop.by, 'alice');

    await alice.click('button[data-action="unfreeze"]');
    await alice.waitForSelector('#action-dialog[open]');
    await alice.type('#action-reason', 'failover complete');
    await alice.click('#action-confirm');
    await alice.waitForSelector('#action-dialog:not([open])');
    await alice.waitForSelector(`${card} [data-gate="freeze"].ok`);
    assert.equal((await call('GET', '/v1/freezes', 'viewer')).line_stop, null);

    // SHA2 was never production: promoterd refuses, and the dialog stays open with its words.
    await alice.click('button[data-action="rollback"]');
    await alice.waitForSelector('#action-dialog[open]');
    await alice.type('#action-reason', 'checkout returns 500');
    await alice.type('#action-to', SHA2);
    await alice.type('#action-typed', SHA2.slice(0, 7));
    refusalsAskedFor.push({ who: 'alice', path: '/v1/rollbacks' });
    await alice.click('#action-confirm');
    await alice.waitForFunction(() => document.querySelector('#action-error').textContent.length > 0);
    const shown = await alice.$eval('#action-error', (p) => p.textContent);
    const refused = await fetch(`${base}/v1/rollbacks`, { method: 'POST', headers: { Authorization: `Bearer ${TOKENS.alice}` },
      body: JSON.stringify({ reason: 'checkout returns 500', to: SHA2 }) });
    assert.equal(refused.status, 409);
    assert.equal(shown, (await refused.json()).error.message);
    assert.equal(await alice.$eval('#action-dialog', (d) => d.open), true);
    await alice.click('#action-cancel');
    await alice.waitForSelector('#action-dialog:not([open])');
    assert.equal((await call('GET', '/v1/status', 'viewer')).production.sha, SHA, 'production unchanged');
  });

  await step('a viewer sees everything and no action button, in the dark theme too', async () => {
    viewer = await person('viewer');
    await viewer.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
    await signIn(viewer, 'viewer', 'dashboard');
    await viewer.waitForSelector(`[data-production="${SHA}"]`);
    await viewer.waitForSelector(`article[data-sha="${SHA2}"]`);
    assert.equal(await actionButtons(viewer), 0, 'no action on the overview');
    await shoot(viewer, 'overview-dark');
    await accessibleAtBothWidths(viewer, 'overview-dark');
    await follow(viewer, `a[href="?release=${SHA}"]`, /^Release [0-9a-f]{12}$/);
    await viewer.waitForSelector(`#view [data-sha="${SHA}"]`);
    await viewer.waitForSelector('#view tr[data-step-state="succeeded"]');
    assert.equal(await actionButtons(viewer), 0, 'no action on the release page');
    await shoot(viewer, 'release-dark');
    await accessibleAtBothWidths(viewer, 'release-dark');
    await follow(viewer, '#nav a[data-nav="audit"]', /^Audit$/);
    await accessible(viewer, 'audit-dark-1440');
  });

  await step('bob signs out, and his session cookie is worth nothing after', async () => {
    const cookie = (await bob.cookies()).find((c) => c.name === 'promoter_session');
    assert.ok(cookie && cookie.httpOnly, 'an HttpOnly session cookie');
    const ask = async () => (await fetch(`${base}/v1/session`, { headers: { Cookie: `promoter_session=${cookie.value}` } })).status;
    assert.equal(await ask(), 200);
    await bob.click('#sign-out');
    await bob.waitForSelector('#sign-in:not([hidden])');
    assert.equal(await bob.$eval('#nav', (n) => n.hidden), true);
    assert.equal(await ask(), 401, 'the session ended');
  });

  await step('no console error and no page error on any console page', async () => {
    assert.deepEqual(consoleErrors(), []);
    for (const page of [alice, bob, viewer]) {
      assert.equal(await page.$eval('#problem', (p) => p.hidden ? '' : p.textContent), '', 'no "could not update" banner');
    }
  });
});
