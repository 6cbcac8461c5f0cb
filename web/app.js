/* app.js — portreg's web UI: a single page over the JSON API (docs/API.md), hash routes
 * (#/map, #/port/N, #/search, #/requests, #/hosts, #/leases, #/policy). The token is kept in
 * sessionStorage and sent as Authorization: Bearer, never in a URL; GET /api/v1/whoami tells
 * the role, and only what the role may do is shown. Text from the server is always set as
 * textContent (never parsed as HTML). No build step, no library. */
'use strict';

const TOKEN_KEY = 'portreg.token';
const state = { token: sessionStorage.getItem(TOKEN_KEY) || '', me: null, policy: null, hosts: [], groups: [] };
const ROLE_RANK = { reader: 1, requester: 2, admin: 3 };

/* The map's colours: the legend and the drawing share them (RGB). */
const COLOURS = {
  system: [216, 222, 233], user: [236, 239, 243], dynamic: [248, 248, 248],
  density1: [198, 219, 239], density2: [140, 190, 222], density3: [74, 148, 204],
  unavailable: [150, 150, 150], quarantined: [118, 42, 131],
  leased: [230, 145, 30], assigned: [26, 140, 70], live: [0, 196, 140], conflict: [230, 0, 126],
};
const LEGEND = [
  ['system', 'System ports 0-1023, no IANA entry'], ['user', 'User ports 1024-49151, no IANA entry'],
  ['dynamic', 'Dynamic ports 49152-65535, no IANA entry'], ['density1', 'IANA: 1-2 assigned records'],
  ['density2', 'IANA: 3-4 records'], ['density3', 'IANA: 5 or more records'],
  ['unavailable', 'Refused by the policy (ephemeral, excluded) or port 0'], ['quarantined', 'Quarantined assignment'],
  ['leased', 'Leased'], ['assigned', 'Assigned'],
  ['live', 'Live: the host\'s agent sees a listener, as assigned or leased'],
  ['conflict', 'Conflict or drift: held in the ephemeral range or an excluded band; or the agent or a scan ' +
    'disagrees with the registry (listening but not assigned, assigned but not listening, wrong address, ' +
    'another service, lease unused)'],
];

/* ---------- small helpers ---------- */

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function may(role) { return state.me && ROLE_RANK[state.me.role] >= ROLE_RANK[role]; }

class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error;
    super(e ? e.message : 'HTTP ' + status);
    this.status = status; this.code = e && e.code; this.field = e && e.field;
  }
}

async function api(path, { method = 'GET', body, binary } = {}) {
  const headers = {};
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch('/api/v1/' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (binary && resp.ok) return new Uint8Array(await resp.arrayBuffer());
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    if (resp.status === 401 && state.me) logout('The token was refused: log in again.');
    throw new ApiError(resp.status, data);
  }
  return data;
}

/* A collection, every page of it (the API pages by 1000 at most). */
async function listAll(path) {
  const items = [];
  let after = null;
  for (let i = 0; i < 50; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api(path + sep + 'limit=1000' + (after ? '&after=' + after : ''));
    items.push(...page.items);
    if (!page.next_after) break;
    after = page.next_after;
  }
  return items;
}

const enc = encodeURIComponent;
function rangeClass(p) { return p < 1024 ? 'system' : p < 49152 ? 'user' : 'dynamic'; }
function parseRange(text) {
  const m = /^(\d+)-(\d+)$/.exec(String(text || ''));
  return m ? [Number(m[1]), Number(m[2])] : null;
}
function fmtTime(s) { return s ? new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : ''; }
function twoBits(map, p) { return (map[p >> 2] >> (2 * (p & 3))) & 3; }

function table(caption, columns, rows) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map(c => h('th', { scope: 'col', class: c.cls }, c.title)))),
    h('tbody', {}, rows.length ? rows.map(r => h('tr', {}, columns.map(c => h('td', { class: c.cls, 'data-label': c.title }, c.cell(r)))))
      : h('tr', {}, h('td', { colspan: columns.length }, 'None.')))));
}

function message(text, kind) { return h('p', { class: 'message ' + (kind || ''), role: kind === 'error' ? 'alert' : 'status' }, text); }

const view = () => document.getElementById('view');
function show(title, ...content) {
  const v = view();
  v.replaceChildren(h('h2', {}, title), ...content);
  document.title = title + ' — portreg';
}

/* ---------- login ---------- */

function renderWho() {
  const who = document.getElementById('who');
  if (!state.me) { who.replaceChildren(); return; }
  who.replaceChildren(h('span', {}, state.me.name + ' (' + state.me.role + ')'),
    state.token ? h('button', { type: 'button', onclick: () => logout('Logged out.') }, 'Log out')
      : h('button', { type: 'button', onclick: () => renderLogin('Anonymous reading is on; a token shows what its role may do.') }, 'Log in'));
  document.body.dataset.role = state.me.role;
}

function logout(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = ''; state.me = null;
  renderWho();
  renderLogin(why);
}

function renderLogin(note) {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const status = h('p', { class: 'message', role: 'status', 'aria-live': 'polite' }, note || '');
  const form = h('form', { class: 'login', onsubmit: async ev => {
    ev.preventDefault();
    state.token = input.value.trim();
    try {
      state.me = await api('whoami');
      sessionStorage.setItem(TOKEN_KEY, state.token);
      renderWho();
      route();
    } catch (e) {
      state.token = ''; state.me = null;
      status.textContent = e.status === 401 ? 'That token is not known (or expired).' : e.message;
      status.className = 'message error';
    }
  } }, h('label', { for: 'token' }, 'API token'), input, h('button', { type: 'submit' }, 'Log in'),
  h('p', { class: 'hint' }, 'Made by an admin with portreg serve token create. It is kept for this tab only.'), status);
  show('Log in', form);
  input.focus();
}

/* ---------- the port map ---------- */

const mapState = { host: '', group: '', proto: 'tcp', band: -1, registry: null, org: null, holders: new Map(), quarantined: new Set(),
  conflicts: 0, live: new Map(), drift: new Map(), agents: [] };

/* Policy ranges as a lookup for the conflict layer. */
function refusedByPolicy(p) {
  const pol = state.policy;
  if (!pol) return false;
  const eph = parseRange(pol.ephemeral);
  if (eph && p >= eph[0] && p <= eph[1]) return true;
  return (pol.excluded || []).some(x => { const r = parseRange(x) || [Number(x), Number(x)]; return p >= r[0] && p <= r[1]; });
}

/* The agents' layer for one host: GET /api/v1/drift?host=H (the registry against the agent's
 * report and the last scan: docs/API.md "Drift") and, when the host has an agent,
 * GET /api/v1/observations/H (every listener it reports). Adds to mapState.live (port → what
 * listens) and mapState.drift (port → the findings that are not "present"); an "absent"
 * finding of a range marks the whole range. */
async function loadAgentLayer(host, assignmentsById) {
  const drift = await api('drift?host=' + enc(host)).then(d => d.hosts[0]).catch(() => null);
  if (!drift) return;
  const add = (map, p, line) => { if (!map.has(p)) map.set(p, []); map.get(p).push(line); };
  const who = x => [x.process, x.pid ? 'pid ' + x.pid : '', x.unit, x.container ? 'container ' + x.container : '']
    .filter(Boolean).join(', ');
  if (drift.agent) {
    mapState.agents.push({ host, stale: drift.agent.stale, last_seen: drift.agent.last_seen });
    const obs = await api('observations/' + enc(host)).catch(() => null);
    for (const l of (obs && obs.listeners) || []) {
      if (l.proto !== mapState.proto) continue;
      add(mapState.live, l.local_port, host + ': ' + (who(l) || 'a process') + ' on ' + l.local_address +
        (drift.agent.stale ? ' (agent stale)' : ''));
    }
  }
  for (const item of drift.items || []) {
    if (item.proto !== mapState.proto || item.kind === 'present') continue;
    const a = item.kind === 'absent' && item.assignment ? assignmentsById.get(item.assignment) : null;
    const line = item.kind + (item.source === 'scan' ? ' (scan)' : '') + ' on ' + host + ': ' + item.explanation +
      (item.service ? ' [' + item.service + ']' : '') + (who(item) ? ' (' + who(item) + ')' : '');
    for (let p = a ? a.port_lo : item.port; p <= (a ? a.port_hi : item.port); p++) add(mapState.drift, p, line);
  }
}

/* The organisation's layer for the hosts chosen: 0 free, 1 assigned, 2 leased, 3 unavailable,
 * 4 quarantined, 5 conflict (the policy) or drift (the agents), 6 live (listening as
 * assigned or leased); the first host that holds a port wins, a conflict or drift over all. */
async function loadOrg() {
  const hosts = mapState.group ? (state.groups.find(g => g.name === mapState.group) || { hosts: [] }).hosts
    : mapState.host ? [mapState.host] : [];
  const org = new Uint8Array(65536);
  mapState.holders = new Map();
  mapState.quarantined = new Set();
  mapState.live = new Map();
  mapState.drift = new Map();
  mapState.agents = [];
  const maps = await Promise.all(hosts.map(host => api('portmap/' + enc(host) + '/' + mapState.proto, { binary: true })));
  const lists = await Promise.all(hosts.map(host => Promise.all([
    listAll('assignments?host=' + enc(host) + '&proto=' + mapState.proto),
    listAll('leases?host=' + enc(host) + '&proto=' + mapState.proto + '&state=active')])));
  const assignmentsById = new Map(lists.flatMap(([assignments]) => assignments.map(a => [a.id, a])));
  await Promise.all(hosts.map(host => loadAgentLayer(host, assignmentsById)));
  for (const [assignments, leases] of lists) {
    for (const a of assignments) {
      if (a.state === 'revoked') continue;
      for (let p = a.port_lo; p <= a.port_hi; p++) {
        if (a.state === 'quarantined') mapState.quarantined.add(p);
        if (!mapState.holders.has(p)) mapState.holders.set(p, []);
        mapState.holders.get(p).push(a.service + ' on ' + a.host + (a.state === 'quarantined' ? ' (quarantined)' : '') + (a.owner ? ', owner ' + a.owner : ''));
      }
    }
    for (const l of leases) {
      if (!mapState.holders.has(l.port)) mapState.holders.set(l.port, []);
      mapState.holders.get(l.port).push('lease of ' + l.service + ' on ' + l.host + ' until ' + fmtTime(l.expires_at));
    }
  }
  let conflicts = 0;
  for (let p = 0; p < 65536; p++) {
    let v = 0;
    for (const m of maps) { const x = twoBits(m, p); if (x && (!v || x < v)) v = x; }
    if (v === 3 && mapState.quarantined.has(p)) v = 4;
    if ((v === 1 || v === 2) && refusedByPolicy(p)) { v = 5; conflicts++; }
    else if (mapState.drift.has(p)) v = 5;
    else if (mapState.live.has(p)) v = 6;
    org[p] = v;
  }
  mapState.org = org;
  mapState.conflicts = conflicts;
}

function colourOf(p) {
  const o = mapState.org ? mapState.org[p] : 0;
  if (o) return COLOURS[['', 'assigned', 'leased', 'unavailable', 'quarantined', 'conflict', 'live'][o]];
  const d = mapState.registry ? twoBits(mapState.registry, p) : 0;
  return d ? COLOURS['density' + d] : COLOURS[rangeClass(p)];
}

/* The view: all ports as 256 x 256, or a band of 1024 as 32 x 32 (one canvas pixel a port,
 * scaled by CSS without smoothing). */
function bandGeometry() {
  return mapState.band < 0 ? { first: 0, side: 256 } : { first: mapState.band * 1024, side: 32 };
}

function drawMap(canvas) {
  performance.mark('portreg-map-draw-start');
  const { first, side } = bandGeometry();
  canvas.width = side; canvas.height = side;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const img = ctx.createImageData(side, side);
  const px = img.data;
  for (let i = 0; i < side * side; i++) {
    const c = colourOf(first + i);
    px[4 * i] = c[0]; px[4 * i + 1] = c[1]; px[4 * i + 2] = c[2]; px[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  canvas.dataset.cells = String(side * side);
  canvas.dataset.first = String(first);
  performance.mark('portreg-map-draw-end');
  performance.measure('portreg-map-draw', 'portreg-map-draw-start', 'portreg-map-draw-end');
}

function portAt(canvas, ev) {
  const { first, side } = bandGeometry();
  const r = canvas.getBoundingClientRect();
  const x = Math.floor((ev.clientX - r.left) / r.width * side), y = Math.floor((ev.clientY - r.top) / r.height * side);
  if (x < 0 || y < 0 || x >= side || y >= side) return -1;
  return first + y * side + x;
}

const registryCache = new Map();
async function registryEntry(p) {
  if (!registryCache.has(p)) registryCache.set(p, api('registry/' + p).then(d => d.queries[0]).catch(() => null));
  return registryCache.get(p);
}

function describe(p, entry) {
  const lines = [p + ' — ' + rangeClass(p) + ' range'];
  const records = entry && entry.records ? entry.records.filter(r => r.status === 'assigned') : [];
  lines.push(records.length ? 'IANA: ' + [...new Set(records.map(r => r.service + '/' + r.protocol))].slice(0, 6).join(', ') : 'IANA: no assigned record');
  for (const who of mapState.holders.get(p) || []) lines.push('Held: ' + who);
  const o = mapState.org ? mapState.org[p] : 0;
  if (o === 3) lines.push('Refused by the policy (ephemeral, excluded) or port 0');
  if (o === 5 && refusedByPolicy(p)) lines.push('CONFLICT: held inside the ephemeral range or an excluded band');
  for (const d of mapState.drift.get(p) || []) lines.push('DRIFT: ' + d);
  for (const l of mapState.live.get(p) || []) lines.push('Live: ' + l);
  return lines;
}

async function renderMap() {
  const hostSelect = h('select', { id: 'map-host' }, h('option', { value: '' }, '(none: IANA only)'),
    state.hosts.map(x => h('option', { value: x.name, selected: x.name === mapState.host }, x.name)));
  const groupSelect = h('select', { id: 'map-group' }, h('option', { value: '' }, '(no group)'),
    state.groups.map(g => h('option', { value: g.name, selected: g.name === mapState.group }, g.name)));
  const protoSelect = h('select', { id: 'map-proto' }, ['tcp', 'udp', 'sctp', 'dccp'].map(p => h('option', { selected: p === mapState.proto }, p)));
  const bandSelect = h('select', { id: 'map-band' }, h('option', { value: '-1' }, 'all 65,536 ports (256 × 256)'),
    Array.from({ length: 64 }, (_, b) => h('option', { value: b, selected: b === mapState.band }, (b * 1024) + '–' + (b * 1024 + 1023) + ' (32 × 32)')));
  const canvas = h('canvas', { id: 'portmap', class: 'portmap', width: 256, height: 256, tabindex: '0',
    role: 'img', 'aria-label': 'Port map: one cell per port, row by row; hover or use the arrow keys, Enter opens the port' });
  const status = h('p', { class: 'message', id: 'map-status', role: 'status', 'aria-live': 'polite' });
  const detail = h('div', { class: 'map-detail', 'aria-live': 'polite' }, 'Hover a cell, or focus the map and use the arrow keys.');
  const legend = h('ul', { class: 'legend', 'aria-label': 'Legend' }, LEGEND.map(([k, text]) =>
    h('li', {}, h('span', { class: 'swatch', 'data-colour': k, style: null }), text)));
  for (const sw of legend.querySelectorAll('.swatch')) sw.style.background = 'rgb(' + COLOURS[sw.dataset.colour].join(',') + ')';
  const controls = h('form', { class: 'controls', onsubmit: ev => ev.preventDefault() },
    h('label', { for: 'map-host' }, 'Host'), hostSelect, h('label', { for: 'map-group' }, 'Group'), groupSelect,
    h('label', { for: 'map-proto' }, 'Protocol'), protoSelect, h('label', { for: 'map-band' }, 'Zoom'), bandSelect);
  /* the drifting ports as buttons too: a cell is small on the full map; a button zooms to its band */
  const driftList = h('div', { class: 'drift-list', id: 'drift-list' });
  show('Port map', controls, h('div', { class: 'map-layout' }, h('div', { class: 'map-box' }, canvas), h('div', {}, detail, legend)), status, driftList);

  const tooltip = document.getElementById('tooltip');
  let cursor = bandGeometry().first, hoverToken = 0;
  const focusPort = async (p, ev) => {
    cursor = p;
    const token = ++hoverToken;
    const lines = describe(p, null);
    detail.replaceChildren(...lines.map(l => h('div', {}, l)));
    if (ev) {
      tooltip.replaceChildren(...lines.map(l => h('div', {}, l)));
      tooltip.hidden = false;
      tooltip.style.left = Math.min(ev.pageX + 14, window.scrollX + window.innerWidth - 260) + 'px';
      tooltip.style.top = (ev.pageY + 14) + 'px';
    }
    const entry = await registryEntry(p);
    if (token !== hoverToken) return;
    const full = describe(p, entry);
    detail.replaceChildren(...full.map(l => h('div', {}, l)));
    if (ev && !tooltip.hidden) tooltip.replaceChildren(...full.map(l => h('div', {}, l)));
  };
  let pending = null;
  canvas.addEventListener('mousemove', ev => {
    const p = portAt(canvas, ev);
    if (p < 0 || p === cursor && !tooltip.hidden) return;
    clearTimeout(pending);
    pending = setTimeout(() => focusPort(p, ev), 40);
  });
  canvas.addEventListener('mouseleave', () => { clearTimeout(pending); tooltip.hidden = true; });
  canvas.addEventListener('click', ev => { const p = portAt(canvas, ev); if (p >= 0) location.hash = '#/port/' + p; });
  canvas.addEventListener('keydown', ev => {
    const { first, side } = bandGeometry();
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: side, ArrowUp: -side };
    if (ev.key === 'Enter') { location.hash = '#/port/' + cursor; return; }
    if (!(ev.key in moves)) return;
    ev.preventDefault();
    const next = cursor + moves[ev.key];
    if (next >= first && next < first + side * side) focusPort(next, null);
  });

  const redraw = async () => {
    status.textContent = 'Loading…';
    status.className = 'message';
    try {
      if (!mapState.registry) mapState.registry = await api('registry/map', { binary: true }).catch(() => null);
      await loadOrg();
      drawMap(canvas);
      const drifting = [...mapState.drift.keys()].sort((a, b) => a - b);
      driftList.replaceChildren(...(drifting.length ? [h('span', {}, 'Drift on ports: '), drifting.slice(0, 50).map(p =>
        h('button', { type: 'button', class: 'drift-port', 'aria-label': 'Port ' + p + ': ' + mapState.drift.get(p)[0] + ' — zoom to it',
          onclick: () => { mapState.band = p >> 10; bandSelect.value = String(mapState.band); drawMap(canvas); focusPort(p, null); canvas.focus(); } }, String(p))),
        drifting.length > 50 ? ' and ' + (drifting.length - 50) + ' more' : ''].flat() : []));
      const held = mapState.holders.size;
      const stale = mapState.agents.filter(a => a.stale).map(a => a.host);
      status.textContent = (mapState.group ? 'Group ' + mapState.group : mapState.host ? 'Host ' + mapState.host : 'No host chosen') +
        ': ' + held + ' ports held' + (mapState.conflicts ? ', ' + mapState.conflicts + ' in conflict' : '') +
        (mapState.agents.length ? ', ' + mapState.live.size + ' listening, ' + mapState.drift.size + ' drifting' +
          (stale.length ? ' (agent stale: ' + stale.join(', ') + ')' : '') : mapState.host || mapState.group ? ', no agent' : '') +
        (mapState.registry ? '' : ' (no registry index on the server)') + '.';
    } catch (e) {
      status.textContent = e.message;
      status.className = 'message error';
    }
  };
  hostSelect.addEventListener('change', () => { mapState.host = hostSelect.value; mapState.group = ''; groupSelect.value = ''; redraw(); });
  groupSelect.addEventListener('change', () => { mapState.group = groupSelect.value; redraw(); });
  protoSelect.addEventListener('change', () => { mapState.proto = protoSelect.value; redraw(); });
  bandSelect.addEventListener('change', () => { mapState.band = Number(bandSelect.value); cursor = bandGeometry().first; drawMap(canvas); });
  await redraw();
}

/* ---------- search and the port page ---------- */

function searchTarget(q) {
  q = q.trim();
  if (/^\d{1,5}(\/\w+)?$/.test(q) && Number(q.split('/')[0]) <= 65535) return '#/port/' + Number(q.split('/')[0]);
  return '#/search/' + enc(q);
}

async function renderSearch(q) {
  const input = h('input', { id: 'search-input', type: 'search', value: q || '', autocomplete: 'off' });
  const form = h('form', { role: 'search', class: 'controls', onsubmit: ev => { ev.preventDefault(); location.hash = searchTarget(input.value); } },
    h('label', { for: 'search-input' }, 'Port, range (LO-HI) or service name'), input, h('button', { type: 'submit' }, 'Search'));
  const results = h('div', { 'aria-live': 'polite' });
  show('Search', form, results);
  input.focus();
  if (!q) return;
  try {
    const path = parseRange(q) ? 'registry/' + enc(q) : 'registry?search=' + enc(q);
    const answer = (await api(path)).queries[0];
    const records = answer.records || [];
    const ports = [...new Set(records.map(r => r.port))];
    if (ports.length === 1 && !parseRange(q)) { location.hash = '#/port/' + ports[0]; return; }
    results.replaceChildren(table(records.length + ' registry records for “' + q + '”', [
      { title: 'Port', cell: r => h('a', { href: '#/port/' + r.port }, r.port_last !== r.port ? r.port + '-' + r.port_last : String(r.port)) },
      { title: 'Proto', cell: r => r.protocol }, { title: 'Service', cell: r => r.service },
      { title: 'Status', cell: r => r.status }, { title: 'Description', cell: r => r.description || '' },
    ], records.slice(0, 500)));
  } catch (e) {
    results.replaceChildren(message(e.message, 'error'));
  }
}

async function renderPort(p) {
  p = Number(p);
  if (!(p >= 0 && p <= 65535)) { show('Port', message('Not a port: 0-65535.', 'error')); return; }
  show('Port ' + p, message('Loading…'));
  const [entry, assignments, leases] = await Promise.all([
    api('registry/' + p).then(d => d.queries[0]).catch(() => null),
    /* every assignment whose port_lo..port_hi holds the port, not only those starting at it */
    listAll('assignments?port=' + p).catch(() => []),
    listAll('leases?port=' + p).catch(() => []),
  ]);
  const events = (await Promise.all([
    ...assignments.map(a => listAll('events?object_kind=assignments&object_id=' + a.id).catch(() => [])),
    /* the requests behind them: submitted, approved, by whom and why */
    ...[...new Set(assignments.map(a => a.request).filter(Boolean))].map(id => listAll('events?object_kind=requests&object_id=' + id).catch(() => [])),
    ...leases.map(l => listAll('events?object_kind=leases&object_id=' + l.id).catch(() => [])),
  ])).flat().sort((a, b) => a.time - b.time || a.id - b.id);
  show('Port ' + p,
    h('p', {}, rangeClass(p) + ' range. ', h('a', { href: '#/map' }, 'Back to the map')),
    table('IANA and registry records', [
      { title: 'Service', cell: r => r.service }, { title: 'Proto', cell: r => r.protocol },
      { title: 'Status', cell: r => r.status }, { title: 'Description', cell: r => r.description || '' },
      { title: 'Source', cell: r => r.source ? r.source.kind : '' },
    ], entry && entry.records ? entry.records : []),
    table('Assignments', [
      { title: 'Id', cell: a => a.id }, { title: 'Service', cell: a => a.service }, { title: 'Host', cell: a => a.host },
      { title: 'Ports', cell: a => a.port_lo === a.port_hi ? String(a.port_lo) : a.port_lo + '-' + a.port_hi },
      { title: 'Proto', cell: a => a.proto }, { title: 'Bind', cell: a => a.bind }, { title: 'Owner', cell: a => a.owner || '' },
      { title: 'State', cell: a => a.state + (a.quarantine_until ? ' until ' + fmtTime(a.quarantine_until) : '') },
    ], assignments),
    table('Leases', [
      { title: 'Id', cell: l => l.id }, { title: 'Service', cell: l => l.service }, { title: 'Host', cell: l => l.host },
      { title: 'State', cell: l => l.state }, { title: 'Expires', cell: l => fmtTime(l.expires_at) },
    ], leases),
    table('History (events)', [
      { title: 'Time', cell: e => fmtTime(e.time) }, { title: 'Event', cell: e => e.kind },
      { title: 'Actor', cell: e => e.actor }, { title: 'Object', cell: e => e.object_kind + ' ' + e.object_id },
      { title: 'Reason', cell: e => (e.after && (e.after.decision_reason || e.after.reason)) || '' },
    ], events));
}

/* ---------- requests ---------- */

function requestForm(onSubmitted) {
  const field = (id, label, input, hint) => h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', { id: id + '-hint' }, hint) : null);
  const service = h('input', { id: 'rq-service', required: true, autocomplete: 'off' });
  const host = h('select', { id: 'rq-host' }, state.hosts.map(x => h('option', { value: x.name }, x.name)),
    state.groups.map(g => h('option', { value: 'group:' + g.name }, 'group ' + g.name)));
  const port = h('input', { id: 'rq-port', required: true, autocomplete: 'off', inputmode: 'numeric', 'aria-describedby': 'rq-port-hint rq-check' });
  const proto = h('select', { id: 'rq-proto' }, ['tcp', 'udp', 'sctp', 'dccp'].map(p => h('option', {}, p)));
  const bind = h('input', { id: 'rq-bind', value: 'any', autocomplete: 'off' });
  const owner = h('input', { id: 'rq-owner', autocomplete: 'off' });
  const reason = h('input', { id: 'rq-reason', autocomplete: 'off' });
  const check = h('p', { id: 'rq-check', class: 'message', role: 'status', 'aria-live': 'polite' });
  const outcome = h('div', { 'aria-live': 'polite' });
  const body = () => {
    const b = { service: service.value.trim(), proto: proto.value, bind: bind.value.trim() || 'any' };
    const target = host.value;
    if (target.startsWith('group:')) b.group = target.slice(6); else b.host = target;
    const pv = port.value.trim();
    b.port = /^\d+$/.test(pv) ? Number(pv) : pv;
    if (owner.value.trim()) b.owner = owner.value.trim();
    if (reason.value.trim()) b.reason = reason.value.trim();
    return b;
  };
  let timer = null, seq = 0;
  const runCheck = async () => {
    const b = body();
    if (!b.service || !b.port || (!b.host && !b.group)) { check.textContent = ''; return; }
    const q = new URLSearchParams();
    for (const k of ['service', 'host', 'group', 'port', 'proto', 'bind']) if (b[k] !== undefined) q.set(k, String(b[k]));
    const mine = ++seq;
    try {
      const r = await api('check?' + q);
      if (mine !== seq) return;
      check.textContent = r.free ? (b.port === 'auto' ? 'A port will be chosen at approval.' : 'Free: no conflict now.') : 'Refused: ' + r.refusal.message;
      check.className = 'message ' + (r.free ? 'ok' : 'error');
      check.dataset.free = String(r.free);
    } catch (e) {
      if (mine !== seq) return;
      check.textContent = e.message;
      check.className = 'message error';
      check.dataset.free = 'false';
    }
  };
  const schedule = () => { clearTimeout(timer); timer = setTimeout(runCheck, 200); };
  const form = h('form', { class: 'request-form', onsubmit: async ev => {
    ev.preventDefault();
    try {
      const r = await api('requests', { method: 'POST', body: body() });
      outcome.replaceChildren(message('Request ' + r.id + ' submitted: ' + r.service + ' port ' + r.port + ' on ' + r.hosts.join(', ') + '.', 'ok'));
      form.reset(); check.textContent = '';
      onSubmitted();
    } catch (e) {
      outcome.replaceChildren(message(e.message, 'error'));
    }
  } },
  field('rq-service', 'Service', service), field('rq-host', 'Host or group', host),
  field('rq-port', 'Port', port, 'a port, LO-HI, or auto'), field('rq-proto', 'Protocol', proto),
  field('rq-bind', 'Bind', bind, 'any, loopback, an address name of the host, or an address'),
  field('rq-owner', 'Owner', owner), field('rq-reason', 'Reason', reason),
  check, h('button', { type: 'submit' }, 'Submit request'), outcome);
  for (const el of [service, host, port, proto, bind]) el.addEventListener('input', schedule);
  for (const el of [host, proto]) el.addEventListener('change', schedule);
  return form;
}

async function renderRequests() {
  const queue = h('section', { 'aria-labelledby': 'queue-title' });
  const load = async () => {
    const [submitted, recent] = await Promise.all([listAll('requests?state=submitted'), api('requests?limit=1000')]);
    const decided = recent.items.filter(r => r.state !== 'submitted').slice(-20).reverse();
    const act = async (r, action, reasonInput, out) => {
      try {
        const body = reasonInput && reasonInput.value.trim() ? { reason: reasonInput.value.trim() } : undefined;
        await api('requests/' + r.id + '/' + action, { method: 'POST', body });
        await load();
      } catch (e) { out.replaceChildren(message(e.message, 'error')); }
    };
    const actions = r => {
      const out = h('span', {});
      if (may('admin')) {
        const reason = h('input', { id: 'reason-' + r.id, class: 'reason', placeholder: 'reason', autocomplete: 'off' });
        return h('div', { class: 'actions' }, h('label', { for: 'reason-' + r.id, class: 'visually-hidden' }, 'Reason for request ' + r.id), reason,
          h('button', { type: 'button', class: 'approve', 'data-request': r.id, onclick: () => act(r, 'approve', reason, out) }, 'Approve'),
          h('button', { type: 'button', class: 'reject', 'data-request': r.id, onclick: () => act(r, 'reject', reason, out) }, 'Reject'), out);
      }
      if (may('requester') && r.requested_by === state.me.name)
        return h('div', { class: 'actions' }, h('button', { type: 'button', class: 'withdraw', onclick: () => act(r, 'withdraw', null, out) }, 'Withdraw'), out);
      return '';
    };
    const cols = [
      { title: 'Id', cell: r => r.id }, { title: 'Service', cell: r => r.service },
      { title: 'Hosts', cell: r => (r.group ? 'group ' + r.group + ': ' : '') + (r.hosts || []).join(', ') },
      { title: 'Port', cell: r => h('a', { href: /^\d+$/.test(String(r.port)) ? '#/port/' + r.port : '#/requests' }, String(r.port)) },
      { title: 'Proto', cell: r => r.proto }, { title: 'By', cell: r => r.requested_by }, { title: 'Reason', cell: r => r.reason || '' },
    ];
    queue.replaceChildren(h('h3', { id: 'queue-title' }, 'Waiting for a decision'),
      table(submitted.length + ' submitted', cols.concat(may('requester') ? [{ title: 'Actions', cell: actions }] : []), submitted),
      table('Recently decided', cols.concat([{ title: 'State', cell: r => r.state + (r.decided_by ? ' by ' + r.decided_by : '') + (r.decision_reason ? ': ' + r.decision_reason : '') }]), decided));
  };
  const content = [];
  if (may('requester')) content.push(h('section', { 'aria-labelledby': 'new-title' }, h('h3', { id: 'new-title' }, 'Request a port'), requestForm(load)));
  show('Requests', ...content, queue);
  await load();
}

/* ---------- hosts, leases, policy ---------- */

async function renderHosts() {
  show('Hosts', message('Loading…'));
  const [assignments, drift] = await Promise.all([
    listAll('assignments?state=active'),
    /* Agents' data (live listeners, the last scan): GET /api/v1/drift, when the server has it.
     * A 404 (a server without agents) hides the columns. */
    api('drift').catch(() => null),
  ]);
  const byHost = new Map();
  for (const a of assignments) {
    if (!byHost.has(a.host)) byHost.set(a.host, []);
    byHost.get(a.host).push(a);
  }
  /* GET /api/v1/drift: {"hosts":[{"host","agent":{last_seen,stale}|null,"items":[{kind,source,
   * port,proto,process…}],"drift"}]} (docs/API.md) */
  const driftOf = name => ((drift && drift.hosts) || []).find(x => x.host === name) || null;
  const portOf = i => i.port + '/' + i.proto + (i.process ? ' ' + i.process : i.service ? ' ' + i.service : '');
  const liveText = d => d.items.filter(i => i.source === 'agent' && i.kind !== 'absent' && i.kind !== 'lease-unused')
    .map(i => portOf(i) + (i.kind === 'present' ? '' : ' (' + i.kind + ')')).join(', ');
  const scannedText = d => d.items.filter(i => i.source === 'scan').map(i => portOf(i) + ' (' + i.kind + ')').join(', ');
  const portsText = list => list.map(x => (x.port_lo === x.port_hi ? x.port_lo : x.port_lo + '-' + x.port_hi) + '/' + x.proto + ' ' + x.service).join(', ');
  const cols = [
    { title: 'Host', cell: x => h('a', { href: '#/map', onclick: () => { mapState.host = x.name; mapState.group = ''; } }, x.name) },
    { title: 'Addresses', cell: x => Object.entries(x.addresses || {}).map(([k, v]) => k + ' ' + v).join(', ') },
    { title: 'Assigned', cell: x => portsText(byHost.get(x.name) || []) },
    /* the drift columns: shown only when /api/v1/drift answers */
    { title: 'Live', cls: 'drift', cell: x => { const d = driftOf(x.name); return d && d.agent ? liveText(d) : 'no agent'; } },
    { title: 'Scanned', cls: 'drift', cell: x => { const d = driftOf(x.name); return d && d.scan ? scannedText(d) : ''; } },
    { title: 'Drift', cls: 'drift', cell: x => { const d = driftOf(x.name); return d ? String(d.drift) : ''; } },
    { title: 'Last seen', cls: 'drift', cell: x => { const d = driftOf(x.name); return d && d.agent ? fmtTime(d.agent.last_seen) + (d.agent.stale ? ' (stale)' : '') : ''; } },
  ];
  show('Hosts', table(state.hosts.length + ' hosts', drift ? cols : cols.filter(c => c.cls !== 'drift'), state.hosts),
    drift ? '' : h('p', { class: 'hint', id: 'drift-note' }, 'Live and scanned ports appear here once the server has agents (GET /api/v1/drift).'));
}

async function renderLeases() {
  show('Leases', message('Loading…'));
  const load = async () => {
    const leases = await listAll('leases?state=active');
    const out = h('div', { 'aria-live': 'polite' });
    show('Leases', table(leases.length + ' active leases', [
      { title: 'Id', cell: l => l.id }, { title: 'Service', cell: l => l.service }, { title: 'Host', cell: l => l.host },
      { title: 'Port', cell: l => h('a', { href: '#/port/' + l.port }, String(l.port)) }, { title: 'Proto', cell: l => l.proto },
      { title: 'Holder', cell: l => l.holder || '' }, { title: 'Expires', cell: l => fmtTime(l.expires_at) },
    ].concat(may('requester') ? [{ title: 'Actions', cell: l => h('button', { type: 'button', onclick: async () => {
      try { await api('leases/' + l.id + '/release', { method: 'POST' }); await load(); } catch (e) { out.replaceChildren(message(e.message, 'error')); }
    } }, 'Release') }] : []), leases), out);
  };
  await load();
}

async function renderPolicy() {
  const p = state.policy = await api('policy');
  const rows = [
    ['Ephemeral range (never assigned)', p.ephemeral], ['Automatic ports from', p.auto_range], ['Leases from', p.lease_range],
    ['Excluded bands', (p.excluded || []).join(', ') || 'none'], ['Quarantine after a deassignment', p.quarantine_days + ' days'],
    ['Lease time', p.lease_ttl_default + ' s by default, ' + p.lease_ttl_max + ' s at most'],
    ['Ports IANA assigns to other services', p.iana_assigned_allowed ? 'allowed' : 'refused'],
  ];
  show('Policy', h('dl', { class: 'policy' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
    h('p', { class: 'hint' }, may('admin') ? 'Change it with PUT /api/v1/policy (portreg remote) — see docs/API.md.' : ''));
}

/* ---------- routing ---------- */

async function loadCommon() {
  const [hosts, groups, policy] = await Promise.all([listAll('hosts'), listAll('groups').catch(() => []), api('policy').catch(() => null)]);
  state.hosts = hosts; state.groups = groups; state.policy = policy;
  if (!mapState.host && !mapState.group && hosts.length) mapState.host = hosts[0].name;
}

let routing = Promise.resolve();
async function route() {
  const hash = location.hash || '#/map';
  for (const a of document.querySelectorAll('#nav a')) {
    if (hash.startsWith(a.getAttribute('href'))) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (!state.me) {
    try { state.me = await api('whoami'); renderWho(); } catch (e) { renderLogin(state.token ? 'Log in again.' : ''); return; }
  }
  try {
    await loadCommon();
    const [, page, arg] = hash.split('/');
    if (page === 'port') await renderPort(arg);
    else if (page === 'search') await renderSearch(decodeURIComponent(arg || ''));
    else if (page === 'requests') await renderRequests();
    else if (page === 'hosts') await renderHosts();
    else if (page === 'leases') await renderLeases();
    else if (page === 'policy') await renderPolicy();
    else await renderMap();
    document.body.dataset.page = page || 'map';
  } catch (e) {
    if (state.me) show('Error', message(e.message, 'error'));
  }
}

window.addEventListener('hashchange', () => { routing = routing.then(route); });
window.addEventListener('DOMContentLoaded', () => {
  document.getElementById('quick-search').addEventListener('submit', ev => {
    ev.preventDefault();
    const input = document.getElementById('quick-search-input');
    if (input.value.trim()) location.hash = searchTarget(input.value);
  });
  routing = routing.then(route);
});

/* For the browser test and the curious: the map's colours and state (read only). */
window.portregUI = { COLOURS, mapState, colourOf, ready: () => routing };
