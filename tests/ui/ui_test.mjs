// ui_test.mjs — the web UI in a real browser: Debian's chromium (headless) driven by
// playwright-core against a running `portreg serve` (ui.bats starts it and makes the tokens,
// the hosts web1/web2, group web, an assignment on UI_ASSIGNED_PORT and a lease). Checks: the
// map has 65,536 cells and the assigned port's cell has the assigned colour (read from the
// canvas), zoom to a band, search jumps to a port, a requester's request (conflict check as
// one types) approved by an admin in the page, a reader sees no approve button, the phone
// width has no sideways scroll; with UI_AGENT_HOST chosen, its agent's listener (UI_LIVE_PORT)
// has the live colour and the drift findings (UI_ABSENT_PORT assigned but silent,
// UI_UNDECLARED_PORT listening unassigned) the conflict colour, each said in the hover; a
// range's assignment (UI_RANGE) is on the page of a port inside it. A screenshot of each page goes to UI_SCREENSHOTS. Prints the
// first load's transferred bytes (asserted <= 150 KB), the load time and the map's draw time.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import path from 'node:path';

const env = name => { const v = process.env[name]; if (!v) throw new Error(name + ' is not set'); return v; };
const URL = env('UI_URL'), SHOTS = env('UI_SCREENSHOTS');
const TOKENS = { admin: env('UI_ADMIN'), reader: env('UI_READER'), requester: env('UI_REQUESTER') };
const ASSIGNED = Number(env('UI_ASSIGNED_PORT')), HOST = env('UI_HOST');
const AGENT_HOST = env('UI_AGENT_HOST'), LIVE = Number(env('UI_LIVE_PORT')), ABSENT = Number(env('UI_ABSENT_PORT'));
const UNDECLARED = Number(env('UI_UNDECLARED_PORT')), RANGE = env('UI_RANGE').split('-').map(Number);
const FIRST_LOAD_LIMIT = 150 * 1024;

let failures = 0, count = 0;
async function step(name, fn) {
  count++;
  try { await fn(); console.log('ok ' + count + ' - ' + name); }
  catch (e) { failures++; console.log('not ok ' + count + ' - ' + name + '\n# ' + String(e.stack || e).split('\n').join('\n# ')); }
}

const browser = await chromium.launch({
  executablePath: process.env.UI_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // as root chromium needs --no-sandbox; /dev/shm may be small in containers
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});

/* A fresh context (empty cache) with the token already in the tab's sessionStorage, as after
 * a login in that tab. */
async function pageAs(role, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  if (role) await context.addInitScript(t => sessionStorage.setItem('portreg.token', t), TOKENS[role]);
  const page = await context.newPage();
  page.on('pageerror', e => { failures++; console.log('# page error: ' + e.message); });
  return page;
}
const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
const gotoHash = async (page, hash) => { await page.evaluate(h => { location.hash = h; }, hash); };

const figures = {};

await step('first load of / as admin: the map has 65,536 cells, the assigned port its colour, <= 150 KB', async () => {
  const page = await pageAs('admin');
  await page.goto(URL + '/');
  await page.waitForSelector('canvas#portmap[data-cells="65536"]');
  await page.waitForFunction(() => /ports held/.test(document.getElementById('map-status')?.textContent || ''));
  const m = await page.evaluate(({ port }) => {
    const c = document.getElementById('portmap');
    const px = c.getContext('2d').getImageData(port % 256, Math.floor(port / 256), 1, 1).data;
    const free = c.getContext('2d').getImageData(9999 % 256, Math.floor(9999 / 256), 1, 1).data;
    const nav = performance.getEntriesByType('navigation')[0];
    const resources = performance.getEntriesByType('resource');
    const draw = performance.getEntriesByName('portreg-map-draw')[0];
    const ready = performance.getEntriesByName('portreg-map-draw-end')[0];
    return {
      cells: c.width * c.height, pixel: [px[0], px[1], px[2]], free: [free[0], free[1], free[2]],
      assigned: window.portregUI.COLOURS.assigned, leased: window.portregUI.COLOURS.leased,
      transferred: nav.transferSize + resources.reduce((n, r) => n + r.transferSize, 0),
      decoded: nav.decodedBodySize + resources.reduce((n, r) => n + r.decodedBodySize, 0),
      requests: 1 + resources.length,
      loadMs: nav.loadEventEnd - nav.startTime, mapReadyMs: ready.startTime, drawMs: draw.duration,
      lease: (() => { const d = c.getContext('2d').getImageData(12000 % 256, Math.floor(12000 / 256), 1, 1).data; return [d[0], d[1], d[2]]; })(),
    };
  }, { port: ASSIGNED });
  assert.equal(m.cells, 65536);
  assert.deepEqual(m.pixel, m.assigned, 'the cell of port ' + ASSIGNED + ' has the assigned colour');
  assert.deepEqual(m.lease, m.leased, 'the leased port has the leased colour');
  assert.notDeepEqual(m.free, m.assigned);
  Object.assign(figures, m);
  console.log(`figure first_load_transferred_bytes=${m.transferred} (${(m.transferred / 1024).toFixed(1)} KB, ` +
    `${m.requests} requests, ${(m.decoded / 1024).toFixed(1)} KB decoded)`);
  console.log(`figure load_event_ms=${m.loadMs.toFixed(1)} map_ready_ms=${m.mapReadyMs.toFixed(1)} map_draw_ms=${m.drawMs.toFixed(2)}`);
  assert.ok(m.transferred > 0, 'the Performance API reports transfer sizes');
  assert.ok(m.transferred <= FIRST_LOAD_LIMIT, `first load ${m.transferred} bytes > ${FIRST_LOAD_LIMIT}`);
  await shot(page, 'map');

  // hover: the port's IANA entry and its holder
  const box = await page.locator('#portmap').boundingBox();
  const cell = box.width / 256;
  await page.mouse.move(box.x + (ASSIGNED % 256 + 0.5) * cell, box.y + (Math.floor(ASSIGNED / 256) + 0.5) * cell);
  await page.waitForFunction(() => /Held: api on/.test(document.getElementById('tooltip').textContent));
  await shot(page, 'map-hover');

  // zoom to the band of 1024 ports holding the port: 32 x 32
  const band = Math.floor(ASSIGNED / 1024);
  await page.selectOption('#map-band', String(band));
  await page.waitForSelector('canvas#portmap[data-cells="1024"]');
  const zoomed = await page.evaluate(({ port, band }) => {
    const i = port - band * 1024;
    const d = document.getElementById('portmap').getContext('2d').getImageData(i % 32, Math.floor(i / 32), 1, 1).data;
    return [d[0], d[1], d[2]];
  }, { port: ASSIGNED, band });
  assert.deepEqual(zoomed, m.assigned);
  await shot(page, 'map-band');

  // a click on a cell opens the port
  const zbox = await page.locator('#portmap').boundingBox();
  const i = ASSIGNED - band * 1024, zcell = zbox.width / 32;
  await page.mouse.click(zbox.x + (i % 32 + 0.5) * zcell, zbox.y + (Math.floor(i / 32) + 0.5) * zcell);
  await page.waitForSelector(`h2:text-is("Port ${ASSIGNED}")`);
  await page.context().close();
});

/* The colour of port p's cell on the full map (256 x 256). */
const cellColour = (page, p) => page.evaluate(port => {
  const d = document.getElementById('portmap').getContext('2d').getImageData(port % 256, Math.floor(port / 256), 1, 1).data;
  return [d[0], d[1], d[2]];
}, p);
async function hover(page, p) {
  const box = await page.locator('#portmap').boundingBox();
  const cell = box.width / 256;
  await page.mouse.move(box.x + (p % 256 + 0.5) * cell, box.y + (Math.floor(p / 256) + 0.5) * cell);
}

await step('the agents\' layer: a host with an agent shows its live listener and its drift in a colour that stands out, said in the hover', async () => {
  const page = await pageAs('reader');
  await page.goto(URL + '/');
  await page.waitForSelector('canvas#portmap[data-cells="65536"]');
  await page.waitForFunction(() => /ports held/.test(document.getElementById('map-status')?.textContent || ''));
  // the first host (no agent) is chosen: no live or drift cell
  const colours = await page.evaluate(() => window.portregUI.COLOURS);
  assert.notDeepEqual(await cellColour(page, UNDECLARED), colours.conflict);
  await page.selectOption('#map-host', AGENT_HOST);
  await page.waitForFunction(h => new RegExp('^Host ' + h + ': .* listening, \\d+ drifting').test(
    document.getElementById('map-status')?.textContent || ''), AGENT_HOST);
  assert.deepEqual(await cellColour(page, LIVE), colours.live, 'the listening assigned port is live');
  assert.deepEqual(await cellColour(page, UNDECLARED), colours.conflict, 'the undeclared listener stands out');
  assert.deepEqual(await cellColour(page, ABSENT), colours.conflict, 'the silent assigned port stands out');
  assert.notDeepEqual(colours.live, colours.assigned);
  // the legend names both colours
  for (const k of ['live', 'conflict'])
    assert.equal(await page.locator(`.legend .swatch[data-colour="${k}"]`).count(), 1, 'legend entry ' + k);
  // not colour alone: the hover says what it is
  await hover(page, UNDECLARED);
  await page.waitForFunction(() => /DRIFT: undeclared on .*listening, but nothing is assigned.*sshd/.test(document.getElementById('tooltip').textContent));
  await shot(page, 'map-drift');
  await hover(page, ABSENT);
  await page.waitForFunction(() => /DRIFT: absent on .*assigned, nothing listens/.test(document.getElementById('tooltip').textContent));
  await hover(page, LIVE);
  await page.waitForFunction(h => new RegExp('Live: ' + h + ': api2, pid 700 on 0\\.0\\.0\\.0').test(document.getElementById('tooltip').textContent), AGENT_HOST);
  assert.doesNotMatch(await page.textContent('#tooltip'), /DRIFT/);
  // the drifting ports are listed as buttons: one zooms to the port's band and describes it
  assert.deepEqual(await page.locator('#drift-list button').allTextContents(), [UNDECLARED, ABSENT].sort((a, b) => a - b).map(String));
  await page.click(`#drift-list button:text-is("${UNDECLARED}")`);
  await page.waitForSelector(`canvas#portmap[data-cells="1024"][data-first="${UNDECLARED - UNDECLARED % 1024}"]`);
  await page.waitForFunction(p => new RegExp('^' + p + ' .*DRIFT: undeclared').test(document.querySelector('.map-detail').textContent), UNDECLARED);
  await shot(page, 'map-drift-band');
  await page.context().close();
});

await step('a range assignment is on the page of every port inside it', async () => {
  const page = await pageAs('reader');
  const inside = Math.floor((RANGE[0] + RANGE[1]) / 2);
  await page.goto(URL + '/#/port/' + inside);
  await page.waitForSelector(`h2:text-is("Port ${inside}")`);
  await page.waitForSelector(`table:has(caption:text-is("Assignments")) td:text-is("${RANGE[0]}-${RANGE[1]}")`);
  await page.waitForSelector('table:has(caption:text-is("History (events)")) td:text-is("assignment.created")');
  await shot(page, 'port-in-range');
  await gotoHash(page, '#/port/' + (RANGE[1] + 1));
  await page.waitForSelector(`h2:text-is("Port ${RANGE[1] + 1}")`);
  await page.waitForSelector('table:has(caption:text-is("Assignments")) td:text-is("None.")');
  await page.context().close();
});

await step('search jumps to a port; the port page shows IANA records, assignments and events', async () => {
  const page = await pageAs('reader');
  await page.goto(URL + '/#/search');
  await page.fill('#search-input', String(ASSIGNED));
  await page.press('#search-input', 'Enter');
  await page.waitForSelector(`h2:text-is("Port ${ASSIGNED}")`);
  await page.waitForSelector('table:has(caption:text-is("Assignments")) td:text-is("api")');
  await page.waitForSelector('table:has(caption:text-is("History (events)")) td:text-is("assignment.created")');
  await shot(page, 'port');
  // by name, from the search box in the header: one port jumps, several list links
  await page.fill('#quick-search-input', 'mysql');
  await page.press('#quick-search-input', 'Enter');
  await page.waitForFunction(() => location.hash === '#/port/3306' || !!document.querySelector('a[href="#/port/3306"]'));
  if (await page.evaluate(() => location.hash !== '#/port/3306')) {
    await shot(page, 'search');
    await page.click('a[href="#/port/3306"] >> nth=0');
  }
  await page.waitForSelector('h2:text-is("Port 3306")');
  await page.waitForSelector('table:has(caption:text-is("IANA and registry records")) td:text-is("mysql")');
  // a range lists the registry's records in it, each a link to its port
  await page.fill('#quick-search-input', '3300-3310');
  await page.press('#quick-search-input', 'Enter');
  await page.waitForSelector('a[href="#/port/3306"]');
  await shot(page, 'search-range');
  await page.context().close();
});

let requestId = null;
await step('a requester logs in with the form, sees the conflict check as it types, submits a request', async () => {
  const page = await pageAs(null);
  await page.goto(URL + '/#/requests');
  await page.fill('#token', TOKENS.requester);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('#rq-service');
  assert.equal(await page.evaluate(() => location.href.includes('portreg_')), false, 'no token in the URL');
  await page.fill('#rq-service', 'orders');
  await page.selectOption('#rq-host', HOST);
  await page.fill('#rq-port', String(ASSIGNED));
  await page.waitForSelector('#rq-check[data-free="false"]');
  assert.match(await page.textContent('#rq-check'), /held by assignment \d+ of api/);
  await shot(page, 'requests-conflict');
  await page.fill('#rq-port', '9090');
  await page.waitForSelector('#rq-check[data-free="true"]');
  await page.fill('#rq-reason', 'orders service');
  await page.click('button:text-is("Submit request")');
  const text = await page.waitForSelector('.message.ok:has-text("submitted")');
  requestId = Number(/Request (\d+) submitted/.exec(await text.textContent())[1]);
  await page.waitForSelector(`td:text-is("${requestId}")`);
  assert.equal(await page.locator('button.approve').count(), 0, 'a requester has no approve button');
  await shot(page, 'requests-requester');
  await page.context().close();
});

await step('a reader sees the queue but no approve button and no request form', async () => {
  const page = await pageAs('reader');
  await page.goto(URL + '/#/requests');
  await page.waitForSelector(`td:text-is("${requestId}")`);
  assert.equal(await page.locator('button.approve').count(), 0);
  assert.equal(await page.locator('button.reject').count(), 0);
  assert.equal(await page.locator('#rq-service').count(), 0);
  await shot(page, 'requests-reader');
  await page.context().close();
});

await step('an admin approves the request in the page, with a reason', async () => {
  const page = await pageAs('admin');
  await page.goto(URL + '/#/requests');
  await page.waitForSelector(`button.approve[data-request="${requestId}"]`);
  await shot(page, 'requests-admin');
  await page.fill(`#reason-${requestId}`, 'fine by ops');
  await page.click(`button.approve[data-request="${requestId}"]`);
  await page.waitForSelector(`table:has(caption:text-is("Recently decided")) td:has-text("approved by admin: fine by ops")`);
  assert.equal(await page.locator(`button.approve[data-request="${requestId}"]`).count(), 0);
  // the port's page has the assignment and its history: submitted by team, approved with the reason
  await gotoHash(page, '#/port/9090');
  await page.waitForSelector('table:has(caption:text-is("Assignments")) td:text-is("orders")');
  await page.waitForSelector('tr:has(td:text-is("request.submitted")) td:text-is("team")');
  await page.waitForSelector('tr:has(td:text-is("request.approved")) td:text-is("fine by ops")');
  await shot(page, 'port-history');
  await page.context().close();
});

await step('hosts (with the drift columns), leases, policy', async () => {
  const page = await pageAs('admin');
  await page.goto(URL + '/#/hosts');
  await page.waitForSelector(`td a:text-is("${HOST}")`);
  await page.waitForSelector('td:has-text("9090/tcp orders")');
  // the server has /api/v1/drift (agents): the drift columns are shown, "no agent" for a host
  // that never reported
  await page.waitForSelector('th:text-is("Live")');
  await page.waitForSelector(`tr:has(td a:text-is("${HOST}")) td:text-is("no agent")`);
  await shot(page, 'hosts');
  await gotoHash(page, '#/leases');
  await page.waitForSelector('td:text-is("ci")');
  await shot(page, 'leases');
  await gotoHash(page, '#/policy');
  await page.waitForSelector('dt:text-is("Ephemeral range (never assigned)")');
  await shot(page, 'policy');
  await page.context().close();
});

await step('the policy (ranges, exclusions, quarantine) is shown to every role', async () => {
  for (const role of ['reader', 'requester']) {
    const page = await pageAs(role);
    await page.goto(URL + '/#/policy');
    await page.waitForSelector('dt:text-is("Ephemeral range (never assigned)") + dd');
    await page.waitForSelector('dt:text-is("Excluded bands")');
    assert.match(await page.textContent('dt:text-is("Quarantine after a deassignment") + dd'), /^\d+ days$/);
    await page.context().close();
  }
});

await step('phone width (375 px): no sideways scroll, the map fits', async () => {
  const page = await pageAs('admin', { width: 375, height: 800 });
  await page.goto(URL + '/');
  await page.waitForSelector('canvas#portmap[data-cells="65536"]');
  const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, canvas: document.getElementById('portmap').getBoundingClientRect().width }));
  assert.ok(widths.doc <= 376, 'page is ' + widths.doc + ' px wide');
  assert.ok(widths.canvas <= 375);
  await shot(page, 'phone-map');
  await gotoHash(page, '#/requests');
  await page.waitForSelector('#rq-service');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 376);
  await shot(page, 'phone-requests');
  await page.context().close();
});

await step('keyboard: the map takes focus, arrows move, Enter opens the port', async () => {
  const page = await pageAs('admin');
  await page.goto(URL + '/');
  await page.waitForSelector('canvas#portmap[data-cells="65536"]');
  await page.focus('#portmap');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction(() => /^257 /.test(document.querySelector('.map-detail').textContent));
  await page.keyboard.press('Enter');
  await page.waitForSelector('h2:text-is("Port 257")');
  await page.context().close();
});

await browser.close();
console.log(`1..${count}`);
console.log(`screenshots in ${SHOTS}`);
process.exit(failures ? 1 : 0);
