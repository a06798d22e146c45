// promoter's web console: what production runs, what is in flight, what blocks the next release, the history
// (promotions, audit), and the operator's actions.
//
// Plain ES module, no build step, nothing fetched but promoterd's own API (the CSP allows nothing else). Every
// value from the API goes on the page through textContent / createElement, never as HTML. The session cookie is
// HttpOnly: this script never sees a credential, only the session's CSRF token, which it sends back on every
// write.
//
// Views are query strings on the console's own path (/ui/?release=SHA, ?promotion=ID, ?view=promotions,
// ?view=audit): the page's assets are referenced relatively, so every view is the same document. Links are real
// <a href>, so they open in new tabs; a plain click is handled here with history.pushState.
//
// Updates: GET /v1/events (Server-Sent Events) says when something changed and the page re-reads what it shows.
// While the stream is not open (not served, or dropped) the page re-reads every 5 seconds instead.

const POLL_MS = 5000; // fallback re-read period while the event stream is not open
const EVENT_DELAY_MS = 200; // events arriving together cause one re-read
const STREAM_RETRY_MS = 30000; // after the stream was refused (e.g. 404), try it again this much later
const EVENT_KINDS = ['release', 'promotion', 'step', 'audit', 'obligation', 'freeze', 'pin', 'production', 'reset'];
const CANDIDATE_STATES = ['deploying', 'soaking', 'ready'];
const GATE_ORDER = ['soak', 'smoke', 'approval', 'review', 'ci', 'ddl_rollback', 'env', 'flag'];
const SIGNED_IN_HINT = 'promoter.signed-in'; // localStorage: whether to ask GET /v1/session on load (see start)

const $ = (id) => document.getElementById(id);

const app = {
  session: null, // {identity, role, git_authors, csrf_token, expires_at}
  route: { view: 'overview' },
  mounted: null, // the current view: {route, key, update(data), load()}
  lastRendered: '', // JSON of the data last rendered, so an unchanged re-read leaves the DOM (and focus) alone
  refreshing: null, // the re-read under way
  again: false, // another re-read was asked for while one ran
  eventTimer: null,
  pollTimer: null,
  stream: null,
  streamOpen: false,
  streamRetry: null,
  deadlinesSeen: new Set(), // countdowns that reached zero and asked for a re-read
  stepStates: new Map(), // "promotion:step" -> state, to announce changes
};

// ---------------------------------------------------------------------------------------------------------------
// DOM helpers

// el('a', {href, class}, child...): attributes are set as attributes (never innerHTML); on* keys add listeners;
// false/null/undefined attributes and children are left out.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

// Replaces a node's children, leaving out null/false ones (replaceChildren would write them as text).
function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A link to another view of the console: a real href (opens in a new tab), followed with pushState on a plain
// click (see the click listener at the end).
function routeLink(href, ...children) {
  return el('a', { href, 'data-route': true, 'data-key': `link:${href}` }, ...children);
}

const releaseHref = (sha) => `?release=${encodeURIComponent(sha)}`;
const promotionHref = (id) => `?promotion=${encodeURIComponent(id)}`;

function shaLink(sha, length = 12) {
  if (!sha) return el('span', { class: 'muted' }, 'none');
  return routeLink(releaseHref(sha), el('code', { class: 'sha', title: sha }, sha.slice(0, length)));
}

// Links from API data (PRs, incidents, obligations' evidence) only when they are http(s): never a javascript: URL.
function externalLink(url, text) {
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return document.createTextNode(text || url || '');
  return el('a', { href: url, rel: 'noopener noreferrer' }, text || url);
}

function timeEl(iso, { relative = false } = {}) {
  if (!iso) return el('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return document.createTextNode(iso);
  const text = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  return el('time', { datetime: iso, title: iso }, relative ? `${text} (${ago(date)})` : text);
}

function ago(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 0) return `in ${duration(-seconds)}`;
  if (seconds < 5) return 'just now';
  return `${duration(seconds)} ago`;
}

// 75 -> "1m 15s", 3600 -> "1h 0m", 0.012 -> "12 ms"
function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '';
  if (seconds < 1 && seconds > 0) return `${Math.round(seconds * 1000)} ms`;
  let s = Math.round(seconds);
  const days = Math.floor(s / 86400);
  s -= days * 86400;
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  s -= minutes * 60;
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${minutes}m`;
  if (minutes) return `${minutes}m ${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

const label = (state) => String(state || '').replaceAll('_', ' ');
const short = (sha) => (sha ? sha.slice(0, 12) : '');

// A mark for a checklist line: the symbol is decoration, the word is what a screen reader says.
function mark(kind) {
  const symbols = { ok: '✓', wait: '…', bad: '✗', info: '•', run: '▶' };
  const words = { ok: 'Holds', wait: 'Waiting', bad: 'Blocked', info: 'Note', run: 'Running' };
  return [el('span', { class: `mark ${kind}`, 'aria-hidden': 'true' }, symbols[kind]),
    el('span', { class: 'visually-hidden' }, `${words[kind]}: `)];
}

function badge(state, text = label(state)) {
  const tone = {
    succeeded: 'ok', promoted: 'ok', ready: 'ok', closed: 'ok',
    failed: 'bad', promotion_failed: 'bad', rejected: 'bad', staging_failed: 'bad', aborted: 'bad',
    promotion_aborted: 'bad', overdue: 'bad',
    started: 'run', running: 'run', promoting: 'run', deploying: 'run',
  }[state] || 'wait';
  return el('span', { class: `badge ${tone}`, 'data-state': state }, text);
}

// A horizontally scrollable table: focusable so that keyboard users can scroll it at 375 px.
function table(caption, headers, rows) {
  return el('div', { class: 'table-wrap', role: 'region', 'aria-label': `Table: ${caption}`, tabindex: '0' },
    el('table', {},
      el('caption', { class: 'visually-hidden' }, caption),
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows)));
}

function definitions(pairs) {
  return el('dl', { class: 'facts' }, pairs.filter(Boolean).map(([term, value]) =>
    el('div', {}, el('dt', {}, term), el('dd', {}, value))));
}

function announce(text) {
  const node = $('announcer');
  node.textContent = '';
  // A new text node in a cleared live region is announced even when the text repeats.
  setTimeout(() => { node.textContent = text; }, 50);
}

// ---------------------------------------------------------------------------------------------------------------
// API

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && app.session && app.session.csrf_token) headers['X-CSRF-Token'] = app.session.csrf_token;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (cause) {
    const error = new Error(`cannot reach promoterd (${cause.message})`);
    error.status = 0;
    throw error;
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const error = new Error(data && data.error ? data.error.message : `HTTP ${response.status}`);
    error.status = response.status;
    error.code = data && data.error ? data.error.code : '';
    throw error;
  }
  return data;
}

// GET that answers null for 404 (a release or promotion that is not known).
async function maybe(path) {
  try {
    return await api('GET', path);
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Who may do what. Behaviour keys on data (role, approvers, states), the words are for people.

const isOperator = () => Boolean(app.session && app.session.role === 'operator');

// Identities are compared as promoterd compares them (trimmed, NFKC, case-folded); look-alikes are the server's
// business: its answer (approvers, or the 403) has the last word.
const sameName = (a, b) => typeof a === 'string' && typeof b === 'string' &&
  a.normalize('NFKC').trim().toLowerCase() === b.normalize('NFKC').trim().toLowerCase();

function wroteIt(release) {
  if (!release.author || !app.session) return false;
  return sameName(release.author, app.session.identity) ||
    (app.session.git_authors || []).some((name) => sameName(name, release.author));
}

// Why the signed-in operator may not approve `release`, or '' when they may.
function approveBlock(release) {
  if (!CANDIDATE_STATES.includes(release.state)) return `the release is ${label(release.state)}`;
  if (release.rejection) return `${release.rejection.by} rejected it`;
  const mine = Array.isArray(release.approvers)
    ? release.approvers.find((a) => sameName(a.identity, app.session.identity)) : null;
  if (mine && mine.may_approve === false) {
    if (mine.reason === 'wrote this commit') return 'you wrote this commit';
    if (mine.reason === 'approved already') return 'you approved it already';
    return mine.reason || 'promoterd does not let you approve it';
  }
  if (!mine && wroteIt(release)) return 'you wrote this commit';
  if ((release.approvals || []).some((a) => sameName(a.by, app.session.identity))) return 'you approved it already';
  if (!release.author) return 'its commit author is not known yet';
  return '';
}

function rejectBlock(release) {
  if (release.rejection) return `${release.rejection.by} rejected it already`;
  if (!CANDIDATE_STATES.includes(release.state)) return `the release is ${label(release.state)}`;
  return '';
}

function hotfixBlock(release) {
  if (release.hotfix) return `${release.hotfix.by} sent it as a hotfix already`;
  if (!CANDIDATE_STATES.includes(release.state)) return `the release is ${label(release.state)}`;
  if (!release.live_at) return 'it is not live on every staging service yet';
  return '';
}

// A button for an action; disabled with its reason as visible text (aria-describedby) when `why` is set.
function actionButton({ key, text, why = '', danger = false, primary = false, onClick }) {
  const whyId = `why-${key}`;
  const button = el('button', {
    type: 'button', class: [danger ? 'danger' : '', primary ? 'primary' : ''].join(' ').trim() || null,
    disabled: Boolean(why), 'aria-describedby': why ? whyId : null, 'data-key': key,
    'data-action': key.split(':')[0], onclick: why ? null : onClick,
  }, text);
  if (!why) return button;
  return el('span', { class: 'action-blocked' }, button, el('span', { class: 'why', id: whyId }, `${text}: ${why}.`));
}

function actionBar(buttons) {
  if (!isOperator()) return null; // viewers and CI see no actions at all
  const present = buttons.filter(Boolean);
  return present.length ? el('div', { class: 'actions', role: 'group', 'aria-label': 'Actions' }, present) : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Action dialogs: each asks for a reason; dangerous ones also for the target's SHA prefix (7+ digits) or the
// environment's name before Confirm enables. The API's own message is shown on failure.

let dialogState = null;

// fields: [{name, label, type: 'textarea'|'text'|'url'|'checkbox'|'select', required, hint, options, value}]
// confirm: {target(values) -> string, min, what} for a typed confirmation.
function openAction({ title, summary, fields = [], confirm = null, confirmLabel = 'Confirm', danger = false, submit,
  done }) {
  const dialog = $('action-dialog');
  const opener = document.activeElement;
  $('action-title').textContent = title;
  fill($('action-summary'), summary);
  $('action-error').textContent = '';
  const inputs = {};
  const rows = [];
  const all = [{ name: 'reason', label: 'Reason', type: 'textarea', required: true,
    hint: 'Required. Recorded in the audit trail with your name.' }, ...fields];
  for (const field of all) {
    const id = `action-${field.name}`;
    const hintId = field.hint ? `${id}-hint` : null;
    let input;
    if (field.type === 'textarea') {
      input = el('textarea', { id, name: field.name, rows: '3', required: field.required, 'aria-describedby': hintId });
    } else if (field.type === 'checkbox') {
      input = el('input', { id, name: field.name, type: 'checkbox', 'aria-describedby': hintId });
      input.checked = Boolean(field.value);
    } else if (field.type === 'select') {
      input = el('select', { id, name: field.name, required: field.required, 'aria-describedby': hintId },
        field.options.map(([value, text]) => el('option', { value }, text)));
      if (field.value) input.value = field.value;
    } else {
      input = el('input', {
        id, name: field.name, type: field.type || 'text', required: field.required, autocomplete: 'off',
        spellcheck: 'false', 'aria-describedby': hintId, placeholder: field.placeholder,
      });
      if (field.value) input.value = field.value;
    }
    inputs[field.name] = input;
    const hint = field.hint ? el('p', { class: 'hint', id: hintId }, field.hint) : null;
    rows.push(field.type === 'checkbox'
      ? el('div', { class: 'field check' }, input, el('label', { for: id }, field.label), hint)
      : el('div', { class: 'field' }, el('label', { for: id }, field.label), input, hint));
  }
  let confirmInput = null;
  let confirmHint = null;
  if (confirm) {
    confirmHint = el('p', { class: 'hint', id: 'action-typed-hint' });
    confirmInput = el('input', {
      id: 'action-typed', type: 'text', autocomplete: 'off', spellcheck: 'false', required: true,
      'aria-describedby': 'action-typed-hint', 'data-typed-confirm': true,
    });
    rows.push(el('div', { class: 'field typed' },
      el('label', { for: 'action-typed' }, `Type ${confirm.what} to confirm`), confirmInput, confirmHint));
  }
  $('action-fields').replaceChildren(...rows);
  const button = $('action-confirm');
  button.textContent = confirmLabel;
  button.className = danger ? 'danger-primary' : 'primary';

  const values = () => Object.fromEntries(Object.entries(inputs).map(([name, input]) =>
    [name, input.type === 'checkbox' ? input.checked : input.value.trim()]));
  const typedOk = () => {
    if (!confirm) return true;
    const target = (confirm.target(values()) || '').toLowerCase();
    const typed = confirmInput.value.trim().toLowerCase();
    return Boolean(target) && typed.length >= Math.min(confirm.min, target.length) && target.startsWith(typed) &&
      (confirm.min < target.length || typed === target);
  };
  const update = () => {
    const v = values();
    const missing = all.some((f) => f.required && f.type !== 'checkbox' && !v[f.name]);
    if (confirm) {
      const target = confirm.target(v) || '';
      confirmHint.textContent = target
        ? (confirm.min < target.length
          ? `The first ${confirm.min} or more characters of ${target}.`
          : `Exactly: ${target}.`)
        : 'Choose a target first.';
    }
    button.disabled = missing || !typedOk();
  };
  for (const input of Object.values(inputs)) {
    input.addEventListener('input', update);
    input.addEventListener('change', update);
  }
  if (confirmInput) confirmInput.addEventListener('input', update);
  update();

  dialogState = { opener, openerKey: opener && opener.dataset ? opener.dataset.key : null };
  $('action-form').onsubmit = async (event) => {
    event.preventDefault();
    update();
    if (button.disabled) return;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    $('action-error').textContent = '';
    try {
      const answer = await submit(values());
      dialog.close();
      announce(done ? done(answer) : `${title}: done.`);
      refreshSoon(0);
    } catch (error) {
      $('action-error').textContent = error.message;
      button.disabled = false;
    } finally {
      button.removeAttribute('aria-busy');
    }
  };
  dialog.showModal();
  inputs.reason.focus();
}

function closeDialog() {
  $('action-dialog').close();
}

// Focus goes back to the button that opened the dialog, or its re-rendered twin.
$('action-dialog').addEventListener('close', () => {
  const state = dialogState;
  dialogState = null;
  if (!state) return;
  let target = state.opener && state.opener.isConnected ? state.opener : null;
  if (!target && state.openerKey) target = document.querySelector(`[data-key="${CSS.escape(state.openerKey)}"]`);
  if (target && !target.disabled) target.focus();
});
$('action-cancel').addEventListener('click', closeDialog);

const shaConfirm = (sha) => ({ what: 'the SHA', min: 7, target: () => sha });

function approve(release) {
  openAction({
    title: `Approve ${short(release.sha)}`,
    summary: `Approve release ${release.sha} by ${release.author || 'an unknown author'} for production.`,
    confirmLabel: 'Approve',
    submit: ({ reason }) => api('POST', `/v1/releases/${release.sha}/approve`, { reason }),
    done: () => `Approved ${short(release.sha)}.`,
  });
}

function reject(release) {
  openAction({
    title: `Reject ${short(release.sha)}`,
    summary: `A rejected release never goes to production. ${release.sha}`,
    confirmLabel: 'Reject', danger: true,
    submit: ({ reason }) => api('POST', `/v1/releases/${release.sha}/reject`, { reason }),
    done: () => `Rejected ${short(release.sha)}.`,
  });
}

function hotfix(release, status) {
  const frozen = status && status.freeze && status.freeze.frozen;
  openAction({
    title: `Hotfix ${short(release.sha)}`,
    summary: ['Promote now, with the soak waived. Opens a review backfill and an incident report obligation.',
      frozen ? ` The environment is frozen: ${status.freeze.active ? status.freeze.active.text : 'a freeze holds'}.` : ''],
    fields: [
      { name: 'incident_url', label: 'Incident link', type: 'url', required: true, placeholder: 'https://',
        hint: 'Required: an http(s) link to the incident.' },
      { name: 'override_freeze', label: 'Start even inside a freeze window or a line stop', type: 'checkbox',
        value: false, hint: 'Audited and notified when the promotion starts.' },
    ],
    confirm: shaConfirm(release.sha), confirmLabel: 'Start hotfix', danger: true,
    submit: ({ reason, incident_url: incident, override_freeze: override }) =>
      api('POST', '/v1/hotfixes', { sha: release.sha, reason, incident_url: incident, override_freeze: override }),
    done: () => `Hotfix of ${short(release.sha)} started.`,
  });
}

function abort(promotion) {
  openAction({
    title: `Abort ${promotion.kind === 'rollback' ? 'rollback' : 'promotion'} ${promotion.id}`,
    summary: `Stops ${short(promotion.sha)} before its next step that could change production; a step already running finishes first.`,
    confirm: shaConfirm(promotion.sha), confirmLabel: 'Abort', danger: true,
    submit: ({ reason }) => api('POST', `/v1/promotions/${encodeURIComponent(promotion.id)}/abort`, { reason }),
    done: () => `Abort of promotion ${promotion.id} requested.`,
  });
}

// The rollback's target is chosen from releases production ran before (state promoted, not production now).
async function rollback(status, preferred) {
  let targets = [];
  try {
    const answer = await api('GET', '/v1/releases?state=promoted&limit=50');
    targets = (answer.releases || []).filter((r) => !status.production || r.sha !== status.production.sha);
  } catch (error) {
    announce(`Cannot list rollback targets: ${error.message}`);
  }
  const fields = [];
  if (targets.length) {
    fields.push({ name: 'to', label: 'Roll back to', type: 'select', required: true,
      value: preferred && targets.some((t) => t.sha === preferred) ? preferred : targets[0].sha,
      options: targets.map((t) => [t.sha, `${short(t.sha)} by ${t.author || 'unknown'} (first seen ${new Date(t.first_seen_at).toLocaleString()})`]) });
  } else {
    fields.push({ name: 'to', label: 'Roll back to (full SHA)', type: 'text', required: true, value: preferred || '',
      hint: 'No earlier production release is listed; type the SHA of one.' });
  }
  fields.push({ name: 'accept_schema', label: 'Roll back even though migrations ran since (they stay applied)',
    type: 'checkbox', value: false, hint: 'Without it promoterd refuses and names the migrations.' });
  openAction({
    title: 'Roll production back',
    summary: `Production runs ${status.production ? short(status.production.sha) : 'nothing recorded'}. A rollback redeploys the target, runs no migration, and pins production until someone resumes.`,
    fields, confirm: { what: 'the target SHA', min: 7, target: (v) => v.to }, confirmLabel: 'Roll back', danger: true,
    submit: ({ reason, to, accept_schema: accept }) => {
      const body = { reason, to: to.toLowerCase() };
      if (accept) body.accept_schema = true;
      return api('POST', '/v1/rollbacks', body);
    },
    done: () => 'Rollback requested.',
  });
}

function freeze(status) {
  openAction({
    title: `Stop the line in ${status.environment}`,
    summary: 'No promotion starts until the stop is lifted or ends. A running promotion is not touched.',
    fields: [{ name: 'until', label: 'Until (optional)', type: 'text', placeholder: '2h',
      hint: 'A duration such as 2h or 90m, or an RFC 3339 time; empty: until someone lifts it.' }],
    confirm: { what: 'the environment name', min: Infinity, target: () => status.environment },
    confirmLabel: 'Stop the line', danger: true,
    submit: ({ reason, until }) => api('POST', '/v1/freeze', until ? { reason, until } : { reason }),
    done: () => 'The line is stopped.',
  });
}

function unfreeze(status) {
  openAction({
    title: `Lift the line stop in ${status.environment}`,
    summary: 'Releases whose gates hold may start again, unless a freeze window is open.',
    confirmLabel: 'Lift the stop',
    submit: ({ reason }) => api('POST', '/v1/unfreeze', { reason }),
    done: () => 'The line stop is lifted.',
  });
}

function resume(status) {
  openAction({
    title: `Resume promotions in ${status.environment}`,
    summary: status.pin && status.pin.text ? status.pin.text : 'Lifts the pin a rollback left.',
    confirmLabel: 'Resume',
    submit: ({ reason }) => api('POST', '/v1/resume', { reason }),
    done: () => 'Promotions resumed.',
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Pieces shared by the views

// A gate's reason without the "name: " the API puts before it (the checklist names the gate in bold).
function gateReason(name, gate) {
  const reason = gate.reason || '';
  return reason.startsWith(`${name}: `) ? reason.slice(name.length + 2) : reason;
}

// The soak as a live countdown: the deadline comes from the API, the seconds tick here (see tick()).
function countdown(deadline) {
  return el('span', { class: 'countdown', 'data-deadline': deadline }, countdownText(deadline));
}

function countdownText(deadline) {
  const left = Math.ceil((new Date(deadline).getTime() - Date.now()) / 1000);
  return left > 0 ? `${duration(left)} left` : 'time is up';
}

// Each gate of a release as a checklist line, then the environment's freeze and pin.
function checklist(release, status) {
  const gates = release.gates || {};
  const names = [...GATE_ORDER.filter((n) => gates[n]), ...Object.keys(gates).filter((n) => !GATE_ORDER.includes(n))];
  const lines = [];
  for (const name of names) {
    const gate = gates[name];
    if (gate.required === false) continue;
    const kind = gate.ok ? 'ok' : 'wait';
    if (name === 'soak') {
      const soak = release.soak || {};
      const running = !gate.ok && soak.deadline && new Date(soak.deadline).getTime() > Date.now() - 1000;
      const total = running && soak.started_at
        ? (new Date(soak.deadline).getTime() - new Date(soak.started_at).getTime()) / 1000 : null;
      lines.push(el('li', { class: `check ${kind}`, 'data-gate': 'soak' }, mark(kind), el('span', { class: 'check-text' },
        el('strong', {}, 'Soak: '),
        running ? [countdown(soak.deadline), total ? el('span', { class: 'muted' }, ` of ${duration(total)}`) : null]
          : gateReason(name, gate),
        soak.resets ? el('span', { class: 'muted' }, ` — reset ${soak.resets} time${soak.resets === 1 ? '' : 's'}`) : null)));
    } else if (name === 'smoke') {
      const results = release.smoke_results || [];
      lines.push(el('li', { class: `check ${kind}`, 'data-gate': 'smoke' }, mark(kind), el('span', { class: 'check-text' },
        el('strong', {}, 'Smoke: '), gateReason(name, gate),
        results.length ? el('ul', { class: 'sub' }, results.map((r) => el('li', {},
          el('span', { class: r.passed ? 'ok' : 'bad' }, `${r.suite} ${r.passed ? 'passed' : 'failed'}`),
          ` — ${r.reported_by}, `, timeEl(r.at)))) : null)));
    } else if (name === 'approval') {
      lines.push(el('li', { class: `check ${kind}`, 'data-gate': 'approval' }, mark(kind), el('span', { class: 'check-text' },
        el('strong', {}, 'Approval: '), gateReason(name, gate), approvalDetails(release))));
    } else {
      lines.push(el('li', { class: `check ${kind}`, 'data-gate': name }, mark(kind),
        el('span', { class: 'check-text' }, el('strong', {}, `${label(name)}: `), gateReason(name, gate))));
    }
  }
  if (status) {
    const f = status.freeze;
    lines.push(f && f.frozen
      ? el('li', { class: 'check bad', 'data-gate': 'freeze' }, mark('bad'), el('span', { class: 'check-text' },
        el('strong', {}, 'Freeze: '), f.active ? f.active.text : 'the environment is frozen'))
      : el('li', { class: 'check ok', 'data-gate': 'freeze' }, mark('ok'), el('span', { class: 'check-text' },
        el('strong', {}, 'Freeze: '), `${status.environment} is not frozen`)));
    if (status.pin && status.pin.pinned) {
      lines.push(el('li', { class: 'check bad', 'data-gate': 'pin' }, mark('bad'), el('span', { class: 'check-text' },
        el('strong', {}, 'Pin: '), status.pin.text || 'production is pinned after a rollback')));
    }
  }
  return el('ul', { class: 'checklist', 'aria-label': `Gates of ${short(release.sha)}` }, lines);
}

function approvalDetails(release) {
  const parts = [];
  const approvals = release.approvals || [];
  if (approvals.length) {
    parts.push(el('ul', { class: 'sub' }, approvals.map((a) => el('li', {},
      el('span', { class: 'ok' }, `approved by ${a.by}`), ' ', timeEl(a.at), a.reason ? `: ${a.reason}` : ''))));
  }
  if (Array.isArray(release.approvers) && release.approvers.length) {
    const may = release.approvers.filter((a) => a.may_approve).map((a) => a.identity);
    const mayNot = release.approvers.filter((a) => !a.may_approve);
    parts.push(el('p', { class: 'sub muted' },
      may.length ? `Can still approve: ${may.join(', ')}.` : 'No one else can approve.',
      mayNot.length ? ` May not: ${mayNot.map((a) => `${a.identity} (${a.reason || 'not allowed'})`).join(', ')}.` : ''));
  }
  if (release.rejection) {
    parts.push(el('p', { class: 'sub bad' }, `Rejected by ${release.rejection.by}: ${release.rejection.reason}`));
  }
  return parts;
}

function releaseActions(release, status) {
  return actionBar([
    actionButton({ key: `approve:${release.sha}`, text: 'Approve', primary: true, why: approveBlock(release),
      onClick: () => approve(release) }),
    actionButton({ key: `reject:${release.sha}`, text: 'Reject', why: rejectBlock(release),
      onClick: () => reject(release) }),
    actionButton({ key: `hotfix:${release.sha}`, text: 'Hotfix', danger: true, why: hotfixBlock(release),
      onClick: () => hotfix(release, status) }),
  ]);
}

// The steps of a promotion as a compact list (overview) that ticks as the journal moves.
function stepList(promotion) {
  const steps = promotion.steps || [];
  if (!steps.length) return el('p', { class: 'muted' }, 'No steps recorded yet.');
  return el('ol', { class: 'steps', 'aria-label': `Steps of promotion ${promotion.id}` }, steps.map((step) => {
    const kind = { succeeded: 'ok', failed: 'bad', started: 'run' }[step.state] || 'wait';
    return el('li', { class: `step ${kind}`, 'data-step': step.name, 'data-step-state': step.state },
      mark(kind), el('span', { class: 'step-name' }, step.name), ' ', badge(step.state),
      step.state === 'started' && step.started_at
        ? el('span', { class: 'muted' }, ' for ', el('span', { 'data-since': step.started_at }, duration((Date.now() - new Date(step.started_at)) / 1000)))
        : step.duration_seconds !== null && step.duration_seconds !== undefined
          ? el('span', { class: 'muted' }, ` in ${duration(step.duration_seconds)}`) : null);
  }));
}

// The promotion's journal in full (release and promotion pages).
function journal(promotion) {
  const steps = promotion.steps || [];
  return table(`Journal of promotion ${promotion.id}`, ['#', 'Step', 'State', 'Attempts', 'Started', 'Finished', 'Took', 'Detail'],
    steps.map((step) => el('tr', { 'data-step': step.name, 'data-step-state': step.state },
      el('td', {}, String(step.index)),
      el('td', {}, el('code', {}, step.name)),
      el('td', {}, badge(step.state)),
      el('td', {}, step.attempts === undefined ? '' : String(step.attempts)),
      el('td', {}, timeEl(step.started_at)),
      el('td', {}, timeEl(step.finished_at)),
      el('td', {}, duration(step.duration_seconds)),
      el('td', { class: 'detail' }, step.detail || ''))));
}

function promotionFacts(p) {
  return definitions([
    ['Kind', `${p.kind || 'promotion'}${p.hotfix ? ' (hotfix)' : ''}`],
    ['Release', shaLink(p.sha)],
    ['State', badge(p.state)],
    ['Started', timeEl(p.created_at, { relative: true })],
    ['Finished', timeEl(p.finished_at)],
    p.abort ? ['Abort asked', `${p.abort.by}, ${new Date(p.abort.at).toLocaleString()}: ${p.abort.reason}`] : null,
    p.error ? ['Outcome', el('span', { class: 'detail' }, p.error)] : null,
    p.rollback ? ['Rollback', `${p.rollback.trigger === 'verify_failure' ? 'automatic, after a failed verify' : `asked by ${p.rollback.requested_by}`}: ${p.rollback.reason}`] : null,
    p.rollback && p.rollback.after_promotion ? ['After promotion', routeLink(promotionHref(p.rollback.after_promotion), p.rollback.after_promotion)] : null,
    p.rollback && (p.rollback.migrations_since || []).length ? ['Migrations that stay', p.rollback.migrations_since.join('; ')] : null,
    p.rolled_back_by ? ['Rolled back by', routeLink(promotionHref(p.rolled_back_by), `rollback ${p.rolled_back_by}`)] : null,
  ]);
}

function pager(base, nextBefore, before, limit, things) {
  const params = (extra) => {
    const q = new URLSearchParams(base);
    if (limit) q.set('limit', limit);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return `?${q}`;
  };
  return el('nav', { class: 'pager', 'aria-label': 'Pages' },
    before ? routeLink(params({}), `Newest ${things}`) : null,
    nextBefore ? routeLink(params({ before: nextBefore }), `Older ${things}`) : el('span', { class: 'muted' }, `No older ${things}`));
}

function pageSize(current, choices, onChange) {
  const select = el('select', { id: 'page-size', 'data-key': 'page-size' },
    choices.map((n) => el('option', { value: String(n) }, String(n))));
  select.value = String(current);
  select.addEventListener('change', () => onChange(select.value));
  return el('div', { class: 'inline-field' }, el('label', { for: 'page-size' }, 'Per page'), select);
}

// ---------------------------------------------------------------------------------------------------------------
// Views. Each has a static part, built once per route (headings, forms: a re-read never wipes what someone
// types), and a data part that load() fetches and update() renders.

const views = {
  overview: {
    title: () => 'Overview',
    mount(root) {
      root.append(el('h1', { id: 'view-title', tabindex: '-1' }, 'Overview'));
      return { data: append(el('div', { class: 'stack' }), [loading()]) };
    },
    async load() {
      const [status, releases, obligations, freezes] = await Promise.all([
        api('GET', '/v1/status'), api('GET', '/v1/releases?limit=20'), api('GET', '/v1/obligations'),
        api('GET', '/v1/freezes'),
      ]);
      const active = status.active_promotion;
      const [promotion, production] = await Promise.all([
        active && active.id ? maybe(`/v1/promotions/${encodeURIComponent(active.id)}`) : null,
        status.production ? maybe(`/v1/releases/${status.production.sha}`) : null,
      ]);
      return { status, releases: releases.releases || [], obligations: obligations.obligations || [], freezes,
        promotion, production };
    },
    update(parts, data) {
      const { status } = data;
      const candidates = data.releases.filter((r) => CANDIDATE_STATES.includes(r.state));
      fill(parts.data, 
        (status.warnings || []).length
          ? el('section', { class: 'card warn', 'aria-label': 'Warnings' },
            el('ul', { class: 'plain' }, status.warnings.map((w) => el('li', {}, w))))
          : null,
        el('div', { class: 'row' }, productionCard(data), inFlightCard(data)),
        el('section', { class: 'stack', 'aria-labelledby': 'next-title' },
          el('h2', { id: 'next-title' }, 'Next candidates'),
          candidates.length
            ? el('div', { class: 'grid' }, candidates.map((r) => candidateCard(r, status)))
            : el('p', { class: 'card muted' }, 'No release is waiting for production.')),
        el('div', { class: 'row' }, environmentCard(data), obligationsCard(data.obligations)));
    },
  },

  release: {
    title: (route) => `Release ${short(route.sha)}`,
    mount(root, route) {
      root.append(el('h1', { id: 'view-title', tabindex: '-1' }, 'Release ', el('code', { class: 'sha' }, short(route.sha))));
      return { data: append(el('div', { class: 'stack' }), [loading()]) };
    },
    async load(route) {
      const [release, status, audit] = await Promise.all([
        maybe(`/v1/releases/${route.sha}`), api('GET', '/v1/status'),
        api('GET', `/v1/audit?sha=${route.sha}&limit=50`),
      ]);
      const promotion = release && release.promotion_id
        ? await maybe(`/v1/promotions/${encodeURIComponent(release.promotion_id)}`) : null;
      return { release, status, audit, promotion };
    },
    update(parts, data, route) {
      const { release, status, promotion } = data;
      if (!release) {
        fill(parts.data, el('p', { class: 'card' }, `No release ${route.sha} is known to promoterd.`));
        return;
      }
      const production = status.production && status.production.sha === release.sha;
      fill(parts.data, 
        el('section', { class: 'card', 'aria-labelledby': 'summary-title', 'data-sha': release.sha },
          el('h2', { id: 'summary-title' }, 'Summary'),
          definitions([
            ['SHA', el('code', { class: 'sha full' }, release.sha)],
            ['Author', release.author || 'not known yet'],
            ['State', [badge(release.state), production ? ' (production runs it)' : '']],
            ['Why', release.state_reason],
            ['First seen', timeEl(release.first_seen_at, { relative: true })],
            ['Live on staging', timeEl(release.live_at)],
            ['Approvals required', String(release.required_approvals)],
            release.hotfix ? ['Hotfix', [`${release.hotfix.by}: ${release.hotfix.reason} — `,
              externalLink(release.hotfix.incident_url, 'incident'), release.hotfix.overrides_freeze ? ' (overrides a freeze)' : '']] : null,
            release.rejection ? ['Rejected', `${release.rejection.by}: ${release.rejection.reason}`] : null,
          ]),
          releaseActions(release, status),
          isOperator() && release.state === 'promoted' && !production && status.production
            ? actionBar([actionButton({ key: `rollback-to:${release.sha}`, text: 'Roll back to this release',
              danger: true, why: status.rollback ? 'a rollback is already waiting or running' : '',
              onClick: () => rollback(status, release.sha) })])
            : null),
        el('section', { class: 'card', 'aria-labelledby': 'gates-title' },
          el('h2', { id: 'gates-title' }, 'Gates'),
          checklist(release, CANDIDATE_STATES.includes(release.state) ? status : null)),
        el('section', { class: 'card', 'aria-labelledby': 'staging-title' },
          el('h2', { id: 'staging-title' }, 'Staging deployments'),
          (release.deployments || []).length
            ? table('Staging deployments', ['Service', 'Deployment', 'Status', 'Updated'],
              release.deployments.map((d) => el('tr', {},
                el('td', {}, d.service), el('td', {}, el('code', {}, d.deployment_id)),
                el('td', {}, badge(d.status === 'SUCCESS' ? 'succeeded' : ['FAILED', 'CRASHED'].includes(d.status) ? 'failed' : 'waiting', d.status)),
                el('td', {}, timeEl(d.updated_at)))))
            : el('p', { class: 'muted' }, 'No staging deployment reported yet.')),
        el('section', { class: 'card', 'aria-labelledby': 'smoke-title' },
          el('h2', { id: 'smoke-title' }, 'Smoke results'),
          (release.smoke_results || []).length
            ? table('Smoke results', ['Suite', 'Result', 'Reported by', 'At', 'Details'],
              release.smoke_results.map((r) => el('tr', {},
                el('td', {}, r.suite), el('td', {}, badge(r.passed ? 'succeeded' : 'failed', r.passed ? 'passed' : 'failed')),
                el('td', {}, r.reported_by), el('td', {}, timeEl(r.at)), el('td', { class: 'detail' }, r.details || ''))))
            : el('p', { class: 'muted' }, 'No smoke result reported yet.')),
        el('section', { class: 'card', 'aria-labelledby': 'verdicts-title' },
          el('h2', { id: 'verdicts-title' }, 'Approvals and rejection'),
          verdicts(release)),
        el('section', { class: 'card', 'aria-labelledby': 'evidence-title' },
          el('h2', { id: 'evidence-title' }, 'Evidence'),
          evidence(release.evidence)),
        el('section', { class: 'card', 'aria-labelledby': 'journal-title' },
          el('h2', { id: 'journal-title' }, 'Promotion journal'),
          promotion
            ? [promotionFacts(promotion),
              promotion.state === 'running' ? actionBar([abortButton(promotion)]) : null,
              journal(promotion),
              el('p', {}, routeLink(promotionHref(promotion.id), `Promotion ${promotion.id} on its own page`))]
            : el('p', { class: 'muted' }, 'No promotion of this release yet.')),
        el('section', { class: 'card', 'aria-labelledby': 'trail-title' },
          el('h2', { id: 'trail-title' }, 'Audit trail'),
          auditTable(data.audit.entries || [], { withSha: false }),
          el('p', {}, routeLink(`?view=audit&sha=${release.sha}`, 'All audit entries of this release'))));
    },
  },

  promotion: {
    title: (route) => `Promotion ${route.id}`,
    mount(root, route) {
      root.append(el('h1', { id: 'view-title', tabindex: '-1' }, `Promotion ${route.id}`));
      return { data: append(el('div', { class: 'stack' }), [loading()]) };
    },
    async load(route) {
      return { promotion: await maybe(`/v1/promotions/${encodeURIComponent(route.id)}`) };
    },
    update(parts, { promotion }, route) {
      if (!promotion) {
        fill(parts.data, el('p', { class: 'card' }, `No promotion ${route.id} is known to promoterd.`));
        return;
      }
      fill(parts.data, el('section', { class: 'card', 'aria-labelledby': 'journal-title' },
        el('h2', { id: 'journal-title' }, promotion.kind === 'rollback' ? 'Rollback' : 'Promotion'),
        promotionFacts(promotion),
        promotion.state === 'running' ? actionBar([abortButton(promotion)]) : null,
        journal(promotion)));
    },
  },

  promotions: {
    title: () => 'Promotions',
    mount(root, route) {
      root.append(
        el('h1', { id: 'view-title', tabindex: '-1' }, 'Promotions'),
        el('p', { class: 'muted' }, 'Promotions and rollbacks, newest first.'),
        el('div', { class: 'toolbar' }, pageSize(route.limit || 20, [10, 20, 50, 100], (value) =>
          navigate(`?view=promotions&limit=${value}`))));
      return { data: append(el('div', { class: 'stack' }), [loading()]) };
    },
    async load(route) {
      const q = new URLSearchParams({ limit: String(route.limit || 20) });
      if (route.before) q.set('before', route.before);
      return api('GET', `/v1/promotions?${q}`);
    },
    update(parts, data, route) {
      const rows = (data.promotions || []).map((p) => el('tr', { 'data-promotion': p.id },
        el('td', {}, routeLink(promotionHref(p.id), p.id)),
        el('td', {}, `${p.kind || 'promotion'}${p.hotfix ? ' (hotfix)' : ''}`),
        el('td', {}, shaLink(p.sha)),
        el('td', {}, badge(p.state)),
        el('td', {}, timeEl(p.created_at)),
        el('td', {}, timeEl(p.finished_at)),
        el('td', { class: 'detail' }, [
          p.abort ? `abort asked by ${p.abort.by}: ${p.abort.reason}. ` : '',
          p.rolled_back_by ? ['rolled back by ', routeLink(promotionHref(p.rolled_back_by), p.rolled_back_by), '. '] : '',
          p.error || '',
        ])));
      fill(parts.data, 
        rows.length ? table('Promotions', ['ID', 'Kind', 'Release', 'State', 'Started', 'Finished', 'Notes'], rows)
          : el('p', { class: 'card muted' }, route.before ? 'No older promotions.' : 'No promotion has run yet.'),
        pager({ view: 'promotions' }, data.next_before, route.before, route.limit, 'promotions'));
    },
  },

  audit: {
    title: () => 'Audit',
    mount(root, route) {
      const input = el('input', {
        id: 'audit-sha', name: 'sha', type: 'search', autocomplete: 'off', spellcheck: 'false',
        'aria-describedby': 'audit-sha-hint audit-sha-error', pattern: '[0-9a-fA-F]{4,40}',
      });
      input.value = route.sha || '';
      const error = el('p', { id: 'audit-sha-error', class: 'error', role: 'alert' });
      const form = el('form', { class: 'filter', role: 'search', 'aria-label': 'Filter the audit trail' },
        el('label', { for: 'audit-sha' }, 'Release SHA'),
        el('div', { class: 'inline' }, input, el('button', { type: 'submit' }, 'Filter'),
          route.sha ? routeLink(`?view=audit${route.limit ? `&limit=${route.limit}` : ''}`, 'Show all') : null),
        el('p', { id: 'audit-sha-hint', class: 'hint' }, 'The full SHA or a unique prefix of 4 or more hex digits.'),
        error);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        error.textContent = '';
        input.removeAttribute('aria-invalid');
        const value = input.value.trim().toLowerCase();
        const limit = route.limit ? `&limit=${route.limit}` : '';
        if (!value) { navigate(`?view=audit${limit}`); return; }
        try {
          const sha = await resolveSha(value);
          navigate(`?view=audit&sha=${sha}${limit}`);
        } catch (problem) {
          error.textContent = problem.message;
          input.setAttribute('aria-invalid', 'true');
          input.focus();
        }
      });
      root.append(
        el('h1', { id: 'view-title', tabindex: '-1' }, 'Audit'),
        el('p', { class: 'muted' }, 'Who did what, newest first.'),
        form,
        el('div', { class: 'toolbar' }, pageSize(route.limit || 50, [10, 20, 50, 100, 200], (value) =>
          navigate(`?view=audit${route.sha ? `&sha=${route.sha}` : ''}&limit=${value}`))));
      return { data: append(el('div', { class: 'stack' }), [loading()]) };
    },
    async load(route) {
      const q = new URLSearchParams({ limit: String(route.limit || 50) });
      if (route.sha) q.set('sha', route.sha);
      if (route.before) q.set('before', route.before);
      return api('GET', `/v1/audit?${q}`);
    },
    update(parts, data, route) {
      const entries = data.entries || [];
      const base = { view: 'audit' };
      if (route.sha) base.sha = route.sha;
      fill(parts.data, 
        route.sha ? el('p', {}, 'Entries about release ', shaLink(route.sha), '.') : null,
        entries.length ? auditTable(entries, { withSha: !route.sha })
          : el('p', { class: 'card muted' }, route.before ? 'No older entries.' : 'No audit entries.'),
        pager(base, data.next_before, route.before, route.limit, 'entries'));
    },
  },
};

function loading() {
  return el('p', { class: 'muted', role: 'status' }, 'Loading…');
}

function abortButton(promotion) {
  const asked = promotion.abort;
  return actionButton({ key: `abort:${promotion.id}`, text: 'Abort', danger: true,
    why: asked ? `${asked.by} asked for an abort already` : '', onClick: () => abort(promotion) });
}

function auditTable(entries, { withSha }) {
  if (!entries.length) return el('p', { class: 'muted' }, 'No audit entries.');
  const headers = ['When', 'Who', 'What', ...(withSha ? ['Release'] : []), 'Detail'];
  return table('Audit entries', headers, entries.map((e) => el('tr', { 'data-audit': e.id },
    el('td', {}, timeEl(e.at)),
    el('td', {}, e.actor),
    el('td', {}, el('code', {}, e.action)),
    withSha ? el('td', {}, e.sha ? shaLink(e.sha) : '') : null,
    el('td', { class: 'detail' }, e.detail))));
}

function verdicts(release) {
  const approvals = release.approvals || [];
  const rows = approvals.map((a) => el('tr', {},
    el('td', {}, badge('succeeded', 'approved')), el('td', {}, a.by), el('td', {}, timeEl(a.at)),
    el('td', { class: 'detail' }, a.reason || ''), el('td', { class: 'detail' }, a.gate_facts || '')));
  if (release.rejection) {
    const r = release.rejection;
    rows.push(el('tr', {}, el('td', {}, badge('rejected')), el('td', {}, r.by), el('td', {}, timeEl(r.at)),
      el('td', { class: 'detail' }, r.reason), el('td', { class: 'detail' }, r.gate_facts || '')));
  }
  return [
    rows.length
      ? table('Approvals and rejection', ['Verdict', 'Who', 'When', 'Reason', 'Gates at that moment'], rows)
      : el('p', { class: 'muted' }, `No approval yet; ${release.required_approvals} required.`),
    approvalDetails({ ...release, approvals: [], rejection: null }),
  ];
}

function evidence(ev) {
  if (!ev) return el('p', { class: 'muted' }, 'No GitHub evidence read for this release (none configured, or not read yet).');
  return [
    definitions([
      ['Range', ev.base ? [shaLink(ev.base), ' .. this release'] : 'everything up to this release'],
      ['Commits', String(ev.commits)],
      ['Read', timeEl(ev.observed_at, { relative: true })],
    ]),
    (ev.pulls || []).length
      ? table('Pull requests', ['PR', 'Author', 'Reviews'], ev.pulls.map((p) => el('tr', {},
        el('td', {}, externalLink(p.url, `#${p.number}`)), el('td', {}, p.author), el('td', {}, String(p.reviews)))))
      : el('p', { class: 'muted' }, 'No pull request in the range.'),
    (ev.checks || []).length
      ? table('Checks', ['Check', 'Completed', 'Conclusion'], ev.checks.map((c) => el('tr', {},
        el('td', {}, c.name), el('td', {}, c.completed ? 'yes' : 'no'),
        el('td', {}, badge(c.conclusion === 'success' ? 'succeeded' : c.completed ? 'failed' : 'waiting', c.conclusion || 'pending')))))
      : el('p', { class: 'muted' }, 'No check reported.'),
  ];
}

function productionCard({ status, production, promotion }) {
  const prod = status.production;
  const approvals = production ? production.approvals || [] : [];
  return el('section', { class: 'card', 'aria-labelledby': 'production-title', 'data-production': prod ? prod.sha : '' },
    el('h2', { id: 'production-title' }, 'Production'),
    prod
      ? definitions([
        ['Environment', status.environment],
        ['Runs', shaLink(prod.sha)],
        ['Since', timeEl(prod.promoted_at, { relative: true })],
        production && production.author ? ['Author', production.author] : null,
        ['Approved by', approvals.length
          ? el('ul', { class: 'plain' }, approvals.map((a) => el('li', {}, `${a.by}`, a.reason ? `: ${a.reason}` : '', ' (', timeEl(a.at), ')')))
          : production && production.hotfix ? `hotfix by ${production.hotfix.by}: ${production.hotfix.reason}` : 'no approval recorded'],
        prod.promotion_id ? ['Promotion', routeLink(promotionHref(prod.promotion_id), prod.promotion_id)] : null,
      ])
      : el('p', {}, `Nothing promoted to ${status.environment} yet.`),
    status.pin && status.pin.pinned ? el('p', { class: 'notice bad' }, status.pin.text || `Pinned by ${status.pin.by}`) : null,
    actionBar([
      prod ? actionButton({ key: 'rollback', text: 'Roll back', danger: true,
        why: status.rollback ? 'a rollback is already waiting or running' : '', onClick: () => rollback(status) }) : null,
      status.pin && status.pin.pinned ? actionButton({ key: 'resume', text: 'Resume promotions',
        why: status.rollback || (promotion && promotion.kind === 'rollback') ? 'the rollback has not ended yet' : '',
        onClick: () => resume(status) }) : null,
    ]));
}

function inFlightCard({ status, promotion }) {
  const active = status.active_promotion;
  const rb = status.rollback;
  let body;
  if (active) {
    const p = promotion || { ...active, steps: [] };
    body = [
      el('p', {}, `${p.kind === 'rollback' ? 'Rollback' : 'Promotion'} `,
        active.id ? routeLink(promotionHref(active.id), active.id) : '(starting)', ' of ', shaLink(active.sha), ' ',
        badge(active.state || 'running')),
      active.abort ? el('p', { class: 'notice bad' }, `Abort asked by ${active.abort.by}: ${active.abort.reason}`) : null,
      stepList(p),
      active.id ? actionBar([abortButton({ ...p, id: active.id, sha: active.sha, abort: active.abort })]) : null,
    ];
  } else {
    body = el('p', { class: 'muted' }, 'No promotion is running.');
  }
  return el('section', { class: 'card', 'aria-labelledby': 'flight-title', id: 'in-flight' },
    el('h2', { id: 'flight-title' }, 'In flight'),
    body,
    rb && !rb.promotion_id ? el('p', { class: 'notice' }, `Waiting to start: ${rb.text}`) : null);
}

function candidateCard(release, status) {
  const approval = release.gates && release.gates.approval;
  const awaiting = approval && !approval.ok;
  return el('article', { class: 'card release', 'data-sha': release.sha, 'data-state': release.state,
    'aria-labelledby': `cand-${release.sha}` },
  el('h3', { id: `cand-${release.sha}` }, routeLink(releaseHref(release.sha), 'Release ', el('code', { class: 'sha' }, short(release.sha)))),
  el('p', { class: 'meta' }, badge(release.state), awaiting ? [' ', badge('waiting', 'awaiting approval')] : null,
    ` by ${release.author || 'an unknown author'}`),
  release.ready ? el('p', { class: 'notice reason' }, release.state_reason) : null,
  checklist(release, status),
  releaseActions(release, status));
}

function environmentCard({ status, freezes }) {
  const f = freezes || status.freeze || {};
  const stop = f.line_stop;
  return el('section', { class: 'card', 'aria-labelledby': 'env-title' },
    el('h2', { id: 'env-title' }, 'Freezes'),
    f.frozen
      ? el('p', { class: 'notice bad' }, f.active ? f.active.text : `${status.environment} is frozen`)
      : el('p', {}, `${status.environment} is not frozen: promotions may start.`),
    stop ? el('p', {}, `Line stopped by ${stop.by} `, timeEl(stop.at), `: ${stop.reason}`,
      stop.until ? [' — until ', timeEl(stop.until)] : ' — until someone lifts it') : null,
    f.next_change ? el('p', { class: 'muted' }, 'Next change: ', timeEl(f.next_change, { relative: true })) : null,
    (f.windows || []).length
      ? el('ul', { class: 'plain' }, f.windows.map((w) => el('li', {}, el('strong', {}, w.name), ` (${label(w.kind)}): `,
        w.kind === 'weekly' ? `${(w.days || []).join(', ')} ${w.from} – ${w.until} ${w.time_zone || ''}` : `${w.from} – ${w.until}`,
        w.reason ? ` — ${w.reason}` : '')))
      : el('p', { class: 'muted' }, 'No freeze window is configured.'),
    (f.overlaps || []).length ? el('p', { class: 'muted' }, `Overlapping windows: ${f.overlaps.join('; ')}`) : null,
    actionBar([
      actionButton({ key: 'freeze', text: 'Stop the line', danger: true, onClick: () => freeze(status) }),
      stop ? actionButton({ key: 'unfreeze', text: 'Lift the line stop', onClick: () => unfreeze(status) }) : null,
    ]));
}

function obligationsCard(obligations) {
  return el('section', { class: 'card', 'aria-labelledby': 'obligations-title' },
    el('h2', { id: 'obligations-title' }, 'Open hotfix obligations'),
    obligations.length
      ? el('ul', { class: 'plain' }, obligations.map((o) => el('li', { 'data-obligation': o.id },
        badge(o.state), ` ${label(o.kind)} for `, shaLink(o.sha), ', due ', timeEl(o.due_at, { relative: true }),
        ` (opened by ${o.opened_by})`)))
      : el('p', { class: 'muted' }, 'None open.'));
}

// ---------------------------------------------------------------------------------------------------------------
// Routing

function parseRoute(search) {
  const q = new URLSearchParams(search);
  const positive = (name, max) => {
    const v = q.get(name);
    return v && /^[1-9][0-9]*$/.test(v) && Number(v) <= max ? v : null;
  };
  if (q.has('release')) return { view: 'release', sha: (q.get('release') || '').trim().toLowerCase() };
  if (q.has('promotion')) return { view: 'promotion', id: positive('promotion', Number.MAX_SAFE_INTEGER) || q.get('promotion') };
  const view = q.get('view');
  if (view === 'promotions') return { view, before: positive('before', Number.MAX_SAFE_INTEGER), limit: positive('limit', 500) };
  if (view === 'audit') {
    const sha = (q.get('sha') || '').trim().toLowerCase();
    return { view, sha: sha || null, before: positive('before', Number.MAX_SAFE_INTEGER), limit: positive('limit', 1000) };
  }
  return { view: 'overview' };
}

// A SHA prefix (4+ hex digits) to the one release it names, as promotectl resolves one.
async function resolveSha(text) {
  const value = text.trim().toLowerCase();
  if (/^[0-9a-f]{40}$/.test(value)) return value;
  if (!/^[0-9a-f]{4,39}$/.test(value)) throw new Error('a SHA is 4 to 40 hex digits (0-9, a-f)');
  const answer = await api('GET', `/v1/releases?sha_prefix=${value}`);
  const found = answer.releases || [];
  if (found.length === 1) return found[0].sha;
  if (!found.length) throw new Error(`no release matches SHA prefix ${value}`);
  throw new Error(`${value} matches ${found.length} releases: ${found.map((r) => short(r.sha)).join(', ')}; type more digits`);
}

function navigate(href, { replace = false } = {}) {
  const url = new URL(href, location.href);
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  showRoute();
}

async function showRoute() {
  let route = parseRoute(location.search);
  // A release named by a prefix (as tables print it): resolve it, then show the full SHA's page.
  if (route.view === 'release' && !/^[0-9a-f]{40}$/.test(route.sha)) {
    try {
      navigate(releaseHref(await resolveSha(route.sha)), { replace: true });
      return;
    } catch (error) {
      route = { view: 'invalid', message: `Release ${route.sha}: ${error.message}` };
    }
  }
  app.route = route;
  for (const link of document.querySelectorAll('[data-nav]')) {
    const current = link.dataset.nav === route.view || (link.dataset.nav === 'overview' && route.view === 'overview');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const root = $('view');
  if (route.view === 'invalid') {
    app.mounted = null;
    root.replaceChildren(el('h1', { id: 'view-title', tabindex: '-1' }, 'Not found'), el('p', { class: 'card' }, route.message));
    document.title = 'promoter';
    return;
  }
  const view = views[route.view];
  root.replaceChildren();
  const parts = view.mount(root, route);
  root.append(parts.data);
  app.mounted = { route, view, parts };
  app.lastRendered = '';
  document.title = `${view.title(route)} · promoter`;
  const heading = $('view-title');
  if (heading && showRoute.moveFocus) heading.focus({ preventScroll: false });
  showRoute.moveFocus = true; // focus the heading on every navigation after the first view
  await refresh();
}
showRoute.moveFocus = false;

// ---------------------------------------------------------------------------------------------------------------
// Reading and re-reading

// Re-reads what the current view shows. One at a time; asks made meanwhile fold into one more.
async function refresh() {
  if (!app.session || !app.mounted) return;
  if (app.refreshing) {
    app.again = true;
    return app.refreshing;
  }
  app.refreshing = (async () => {
    do {
      app.again = false;
      const mounted = app.mounted;
      if (!mounted || !app.session) break; // signed out, or a view with nothing to read, meanwhile
      try {
        const data = await mounted.view.load(mounted.route);
        if (mounted !== app.mounted) continue; // the person navigated meanwhile
        showProblem('');
        const json = JSON.stringify(data);
        if (json !== app.lastRendered) {
          app.lastRendered = json;
          render(() => mounted.view.update(mounted.parts, data, mounted.route));
          noteSteps(data);
        }
      } catch (error) {
        if (error.status === 401) {
          showSignIn('Your session ended; sign in again.');
          return;
        }
        showProblem(`Could not update: ${error.message}. Retrying.`);
      }
    } while (app.again);
  })();
  try {
    await app.refreshing;
  } finally {
    app.refreshing = null;
  }
}

// Renders, keeping keyboard focus on the same control (by data-key) when the re-read rebuilt it.
function render(update) {
  const active = document.activeElement;
  const key = active && active.dataset ? active.dataset.key : null;
  const inView = active && $('view').contains(active);
  update();
  if (inView && key && !active.isConnected) {
    const again = $('view').querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again && !again.disabled) again.focus({ preventScroll: true });
  }
  tick();
}

// Tells screen readers when a step of the promotion on screen changes state (the list itself is not a live
// region: it is rebuilt on every re-read).
function noteSteps(data) {
  const promotion = data && data.promotion;
  if (!promotion || !promotion.steps) return;
  const changes = [];
  for (const step of promotion.steps) {
    const key = `${promotion.id}:${step.name}`;
    const before = app.stepStates.get(key);
    if (before && before !== step.state) changes.push(`${step.name} ${step.state}`);
    app.stepStates.set(key, step.state);
  }
  if (changes.length) announce(`Promotion ${promotion.id}: ${changes.join(', ')}.`);
}

function showProblem(text) {
  const node = $('problem');
  node.textContent = text;
  node.hidden = !text;
}

function refreshSoon(delay = EVENT_DELAY_MS) {
  if (app.eventTimer) return; // one re-read for a burst of events
  app.eventTimer = setTimeout(() => {
    app.eventTimer = null;
    refresh();
  }, delay);
}

// Every second: countdowns and running steps' clocks. A countdown reaching zero asks for one re-read, so the
// soak gate flips without waiting for the next event or poll.
function tick() {
  for (const node of document.querySelectorAll('[data-deadline]')) {
    const text = countdownText(node.dataset.deadline);
    if (node.textContent !== text) node.textContent = text;
    if (text === 'time is up' && !app.deadlinesSeen.has(node.dataset.deadline)) {
      app.deadlinesSeen.add(node.dataset.deadline);
      refreshSoon(1000);
    }
  }
  for (const node of document.querySelectorAll('[data-since]')) {
    node.textContent = duration((Date.now() - new Date(node.dataset.since).getTime()) / 1000);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Live updates: the event stream, with polling while it is not open

function startStream() {
  stopStream();
  startPolling(); // until the stream says it is open
  if (typeof EventSource === 'undefined') return;
  const source = new EventSource('/v1/events');
  app.stream = source;
  source.addEventListener('open', () => {
    if (app.stream !== source) return;
    app.streamOpen = true;
    stopPolling();
    setLive(true);
    refreshSoon(); // catch up on what happened while it was closed
  });
  source.addEventListener('error', () => {
    if (app.stream !== source) return;
    app.streamOpen = false;
    setLive(false);
    startPolling();
    if (source.readyState === EventSource.CLOSED) {
      // Refused (not served yet, 401, 5xx): EventSource gives up; try again later, polling meanwhile. A dropped
      // connection instead stays CONNECTING, and EventSource resumes it with Last-Event-ID by itself.
      source.close();
      app.stream = null;
      clearTimeout(app.streamRetry);
      app.streamRetry = setTimeout(() => { if (app.session) startStream(); }, STREAM_RETRY_MS);
    }
  });
  const onEvent = () => refreshSoon();
  source.addEventListener('message', onEvent);
  for (const kind of EVENT_KINDS) source.addEventListener(kind, onEvent);
}

function stopStream() {
  clearTimeout(app.streamRetry);
  app.streamRetry = null;
  if (app.stream) app.stream.close();
  app.stream = null;
  app.streamOpen = false;
  stopPolling();
}

function startPolling() {
  if (!app.pollTimer) app.pollTimer = setInterval(refresh, POLL_MS);
}

function stopPolling() {
  clearInterval(app.pollTimer);
  app.pollTimer = null;
}

function setLive(open) {
  const node = $('live');
  node.hidden = false;
  node.textContent = open ? 'Live' : `Updates every ${POLL_MS / 1000} s`;
  node.classList.toggle('on', open);
  node.dataset.live = open ? 'stream' : 'polling';
}

// ---------------------------------------------------------------------------------------------------------------
// Signing in and out

function rememberSignedIn(yes) {
  try {
    if (yes) localStorage.setItem(SIGNED_IN_HINT, '1');
    else localStorage.removeItem(SIGNED_IN_HINT);
  } catch { /* storage off: the page then always asks GET /v1/session */ }
}

function mayBeSignedIn() {
  try {
    return localStorage.getItem(SIGNED_IN_HINT) === '1';
  } catch {
    return true;
  }
}

function showSignIn(message = '') {
  app.session = null;
  rememberSignedIn(false);
  stopStream();
  app.mounted = null;
  app.lastRendered = '';
  app.stepStates.clear();
  if ($('action-dialog').open) closeDialog();
  $('view').hidden = true;
  $('view').replaceChildren();
  $('nav').hidden = true;
  $('sign-out').hidden = true;
  $('live').hidden = true;
  $('who').textContent = '';
  showProblem('');
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  document.title = 'Sign in · promoter';
  $('token').focus();
}

async function signedIn(session) {
  app.session = session;
  rememberSignedIn(true);
  $('sign-in').hidden = true;
  $('sign-in-error').textContent = '';
  $('nav').hidden = false;
  $('sign-out').hidden = false;
  $('who').replaceChildren('Signed in as ', el('strong', {}, session.identity), ` (${session.role})`);
  $('view').hidden = false;
  setLive(false);
  startStream();
  await showRoute();
}

// On load: ask who is signed in only when this browser signed in before. Asking while signed out answers 401,
// which the browser logs as a console error on every visit to the sign-in form.
async function start() {
  if (!mayBeSignedIn()) {
    showSignIn();
    return;
  }
  try {
    await signedIn(await api('GET', '/v1/session'));
  } catch (error) {
    showSignIn(error.status === 401 ? '' : error.message);
  }
}

$('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = $('token').value.trim();
  if (!token) {
    $('sign-in-error').textContent = 'Paste your API token first.';
    return;
  }
  const button = event.submitter || $('sign-in-form').querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const session = await api('POST', '/v1/session', { token });
    $('token').value = '';
    showRoute.moveFocus = true;
    await signedIn(session);
  } catch (error) {
    $('sign-in-error').textContent = error.status === 401 ? 'promoterd does not know this token.' : error.message;
    $('token').focus();
  } finally {
    button.disabled = false;
  }
});

$('sign-out').addEventListener('click', async () => {
  // Stop reading first: a re-read racing the sign-out would meet a 401.
  stopStream();
  app.mounted = null;
  if (app.refreshing) await app.refreshing;
  try {
    await api('DELETE', '/v1/session');
  } catch { /* signed out either way: the cookie is cleared or already invalid */ }
  showSignIn('Signed out.');
});

// Plain clicks on the console's own links stay in the page; modified clicks (new tab, new window) do not.
document.addEventListener('click', (event) => {
  // The skip link moves focus without changing the URL (a #main fragment would be one more history entry).
  if (event.target.closest && event.target.closest('a.skip')) {
    event.preventDefault();
    $('main').focus();
    return;
  }
  const link = event.target.closest && event.target.closest('a[data-route]');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey ||
      event.altKey || link.target) return;
  event.preventDefault();
  if (!app.session) return;
  navigate(link.getAttribute('href'));
});

window.addEventListener('popstate', () => {
  if (app.session) showRoute();
});

setInterval(tick, 1000);
start();
