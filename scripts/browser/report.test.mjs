// The report pages in a real browser: every KPI with the figures of the JSON, links that lead
// somewhere, the print view and its PDF (read back with pdftotext), and axe-core's WCAG 2.0/2.1
// A and AA rules with no violation.
//
//   node report.test.mjs BASE_URL ADMIN_TOKEN OUTPUT_DIR PROFILE_DIR
//
// Records results, a target revision and an evaluation through the API first, so that every part
// of the pages has something to show.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';

const [base, token, out, profile] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const axeSource = readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

async function api(method, path, body, headers = {}) {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return { json: text ? JSON.parse(text) : null, headers: response.headers };
}
const get = async (path) => (await fetch(base + path).then(async (response) => {
  assert.equal(response.status, 200, `GET ${path}`);
  return response.json();
}));

/** A decimal as the pages write it: the whole part grouped by thousands, the places kept. */
function grouped(text) {
  const [whole, fraction] = text.replace(/^-/, '').split('.');
  const digits = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return (text.startsWith('-') ? '-' : '') + digits + (fraction === undefined ? '' : `.${fraction}`);
}
/** A result as a report cell shows it: a calendar-year figure names its year (the columns are fiscal). */
function cellText(result) {
  const shown = result.status === 'not_measurable' ? '測定不能' : grouped(result.value_text);
  return result.year_type === 'calendar' ? `${shown}（${result.year}年）` : shown;
}
const percent = (rate) => (rate === null ? '―' : `${(rate * 100).toFixed(1)}%`);
const LABELS = { achieved: '◎ 達成', on_track: '○ 順調', behind: '△ 遅れ', no_data: '－ 未把握', not_measurable: '× 測定不能' };

// ---- what the pages will show ----
const plan = (await get('/api/v1/plans')).items[0];
const kpis = (await get(`/api/v1/kpis?plan=${plan.id}&limit=500`)).items;
const numeric = kpis.filter((kpi) => kpi.baseline.value_text !== null && kpi.target.value_text !== null);
const places = (text) => (text.split('.')[1] || '').length;
/** A value part way from baseline to target, in the target's places. */
function between(kpi, share) {
  const baseline = Number(kpi.baseline.value_text);
  const target = Number(kpi.target.value_text);
  return (baseline + (target - baseline) * share).toFixed(places(kpi.target.value_text));
}
for (const [index, kpi] of numeric.entries()) {
  if (index % 2 === 1) continue;
  const share = [1, 0.6, 0.1][index % 3];
  await api('PUT', `/api/v1/kpis/${kpi.id}/results/2021`, {
    value: between(kpi, share / 2),
    note: '速報値',
    source: '市民意識調査',
    analysis: '取組の周知が進み、参加者が増えた。',
    next_steps: '事業の対象を広げる。',
  });
  await api('PUT', `/api/v1/kpis/${kpi.id}/results/2022`, { value: between(kpi, share) });
}
const unmeasured = numeric[1];
await api('PUT', `/api/v1/kpis/${unmeasured.id}/results/2022`, { status: 'not_measurable', note: '調査を実施しなかったため' });
const revised = numeric[0];
const { headers } = await api('GET', `/api/v1/kpis/${revised.id}`);
const newTarget = (Number(revised.target.value_text) * 2).toFixed(places(revised.target.value_text));
await api('POST', `/api/v1/kpis/${revised.id}/target-revisions`,
  { value: newTarget, year: revised.target.year, reason: '国の目標の見直しに合わせて上方修正' },
  { 'if-match': headers.get('etag') });
const evaluation = (await api('POST', `/api/v1/plans/${plan.id}/evaluations`, { fiscal_year: 2022, title: '令和4年度 総合戦略評価' })).json;
// Corrected after the evaluation: the evaluation's view must still show what it froze.
const later = numeric[2];
const { json: frozenResult, headers: resultHeaders } = await api('GET', `/api/v1/kpis/${later.id}/results/2022`);
await api('PUT', `/api/v1/kpis/${later.id}/results/2022`, { value: later.target.value_text }, { 'if-match': resultHeaders.get('etag') });

// ---- the browser ----
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
  locale: 'ja-JP',
});
const page = context.pages()[0] ?? await context.newPage();
const failures = [];
let passed = 0;
async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (error) {
    failures.push(name);
    console.log(`FAIL ${name}\n     ${String(error.stack || error).split('\n').slice(0, 6).join('\n     ')}`);
  }
}
async function visit(path, status = 200) {
  const response = await page.goto(base + path);
  assert.equal(response.status(), status, `GET ${path}`);
  assert.match(response.headers()['content-type'], /^text\/html; charset=utf-8/);
}
async function axe(name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    const found = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
    return found.violations.map((violation) => ({
      id: violation.id, impact: violation.impact, help: violation.help,
      nodes: violation.nodes.slice(0, 3).map((node) => node.target.join(' ')),
    }));
  }, WCAG);
  assert.deepEqual(result, [], `axe-core on ${name}: ${JSON.stringify(result, null, 1)}`);
}
async function screenshot(name) {
  await page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
}
/**
 * Follows every link of the page's `selector` that names a media type: each must answer 200 with
 * that type (a zip must be one). Answers the hrefs followed.
 */
async function followTyped(selector) {
  const links = await page.$$eval(selector, (found) => found.map((link) => ({ href: link.getAttribute('href'), type: link.getAttribute('type') })));
  for (const { href, type } of links) {
    const response = await page.request.get(new URL(href, base).toString());
    assert.equal(response.status(), 200, href);
    assert.equal(response.headers()['content-type'].split(';')[0].trim(), type, `${href} is ${type}`);
    if (type === 'application/zip') assert.equal((await response.body()).subarray(0, 4).toString('latin1'), 'PK\x03\x04', `${href} is a zip`);
    if (type === 'application/json') await response.json();
  }
  return links.map((link) => link.href);
}
/** The text of each page of a PDF, as poppler's pdftotext lays it out. */
function pdfPages(path) {
  const text = execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', path, '-'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return text.split('\f').slice(0, -1);
}
/** Every row of the KPI tables: its link, and each cell's text by its column's heading. */
async function kpiRows() {
  return page.$$eval('table.kpis', (tables) => tables.flatMap((table) => {
    const headings = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
    return [...table.querySelectorAll('tbody tr')].map((row) => {
      const cells = [...row.children].map((cell) => cell.textContent.trim());
      return { href: row.querySelector('a').getAttribute('href'), cells: Object.fromEntries(headings.map((h, i) => [h, cells[i]])) };
    });
  }));
}

await check('the index lists the plan with its period and summary', async () => {
  await visit('/');
  const progress = await get(`/api/v1/progress?plan=${plan.id}`);
  const { counts } = progress;
  const line = `${progress.kpis}指標のうち達成 ${counts.achieved}・順調 ${counts.on_track}・遅れ ${counts.behind}・未把握 ${counts.no_data}`;
  assert.ok((await page.textContent('main')).includes(line), line);
  // The plan's own machine-readable forms, the export among them, each what its link says it is.
  const card = `.plan-list li:has(a[href="/plans/${plan.id}"])`;
  const followed = await followTyped(`${card} a[type]`);
  for (const href of [`/api/v1/plans/${plan.id}`, `/api/v1/plans/${plan.id}/export`, `/api/v1/plans/${plan.id}/export.zip`,
    `/api/v1/kpis?plan=${plan.id}&limit=all&format=csv`]) {
    assert.ok(followed.includes(href), `the index links ${href} for the plan`);
  }
  const exported = await (await page.request.get(`${base}/api/v1/plans/${plan.id}/export`)).json();
  assert.equal(exported.plan.id, plan.id, "the export is the plan's");
  await followTyped('main a[type]:not(.plan-list a)');
  await page.click(`a[href="/plans/${plan.id}"]`);
  assert.equal(new URL(page.url()).pathname, `/plans/${plan.id}`);
  await visit('/');
  await axe('the index');
  await screenshot('index');
});

await check('the report shows every KPI with the figures of the JSON', async () => {
  await visit(`/plans/${plan.id}`);
  const rows = await kpiRows();
  const now = (await get(`/api/v1/kpis?plan=${plan.id}&limit=500`)).items;
  assert.equal(rows.length, now.length);
  for (const kpi of now) {
    const row = rows.find((candidate) => candidate.href === `/plans/${plan.id}/kpis/${kpi.id}`);
    assert.ok(row, `KPI ${kpi.code} is in the report`);
    assert.equal(row.cells['番号'], kpi.code);
    assert.equal(row.cells['指標名'], kpi.name);
    assert.equal(row.cells['単位'], kpi.unit);
    assert.ok(row.cells['基準値'].startsWith(kpi.baseline.value_text === null ? '―' : grouped(kpi.baseline.value_text)), kpi.code);
    assert.ok(row.cells['目標値'].startsWith(grouped(kpi.target.value_text ?? '―')), kpi.code);
    assert.equal(row.cells['達成率'], percent(kpi.progress.achievement), kpi.code);
    assert.equal(row.cells['進捗状況'], LABELS[kpi.progress.status], kpi.code);
    assert.equal(row.cells['評価'], kpi.progress.grade ?? '―', kpi.code);
    const results = (await get(`/api/v1/kpis/${kpi.id}/results`)).items;
    for (const result of results) {
      const heading = Object.keys(row.cells).find((h) => h.includes(`(${result.year})`));
      assert.equal(row.cells[heading], cellText(result), `${kpi.code} ${result.year}`);
    }
  }
  const revisedRow = rows.find((row) => row.href.endsWith(`/kpis/${revised.id}`));
  assert.ok(revisedRow.cells['目標値'].includes(`当初目標値 ${grouped(revised.target.value_text)}`), revisedRow.cells['目標値']);
  await axe('the report');
  await page.screenshot({ path: `${out}/report-top.png` });
  await page.locator('section.initiative').first().scrollIntoViewIfNeeded();
  await page.evaluate(() => document.querySelector('section.initiative').scrollIntoView());
  await page.screenshot({ path: `${out}/report-kpis.png` });
  await screenshot('report');
});

await check('every link of the report leads somewhere', async () => {
  await visit(`/plans/${plan.id}`);
  const hrefs = [...new Set(await page.$$eval('a[href]', (links) => links.map((link) => link.getAttribute('href'))))];
  for (const href of hrefs) {
    if (href.startsWith('#')) {
      assert.equal(await page.locator(href).count(), 1, `${href} is on the page`);
      continue;
    }
    const response = await page.request.get(new URL(href, base).toString());
    assert.equal(response.status(), 200, href);
  }
  const ld = JSON.parse(await page.textContent('script[type="application/ld+json"]'));
  assert.equal(ld['@type'], 'Dataset');
  assert.equal(ld.name, plan.name);
  for (const distribution of ld.distribution) {
    assert.equal((await page.request.get(distribution.contentUrl)).status(), 200, distribution.contentUrl);
  }
  await page.click(`a[href="/plans/${plan.id}/kpis/${revised.id}"]`);
  assert.ok((await page.textContent('h1')).startsWith(revised.name));
});

await check('the print view: A4, a page per goal, table headers repeated, no navigation', async () => {
  await visit(`/plans/${plan.id}`);
  // Back to the screen whatever fails, so that the checks after this one see the page as shown.
  try {
    await page.emulateMedia({ media: 'print' });
    // The printable width of A4 landscape at 96 dpi, less the page margins.
    await page.setViewportSize({ width: 1047, height: 700 });
    const styles = await page.evaluate(() => {
      const goals = [...document.querySelectorAll('section.goal')];
      return {
        goals: goals.length,
        breaks: goals.map((goal) => getComputedStyle(goal).breakBefore),
        form: getComputedStyle(document.querySelector('.moment')).display,
        name: document.querySelector('table.kpis tbody th').getBoundingClientRect().width,
        header: getComputedStyle(document.querySelector('.site-header')).display,
      };
    });
    assert.equal(styles.goals, 4);
    assert.deepEqual(styles.breaks, ['page', 'page', 'page', 'page']);
    assert.equal(styles.form, 'none');
    assert.equal(styles.header, 'none');
    assert.ok(styles.name >= 120, `KPI names get ${styles.name} px in print`);
    await page.pdf({ path: `${out}/report.pdf`, format: 'A4', printBackground: true, preferCSSPageSize: true });
    const pages = pdfPages(`${out}/report.pdf`);
    assert.ok(pages.length > styles.goals, `the PDF has ${pages.length} A4 pages`);
    // A KPI table that runs onto another page shows its header row again there: a page that opens
    // with the header, not with the caption of a new table, continues the table of an earlier page.
    const headings = await page.$$eval('table.kpis', (tables) => [...tables[0].querySelectorAll('thead th')].map((th) => th.textContent.trim()));
    const words = ['番号', '指標名', '基準値', '目標値'];
    assert.deepEqual([headings[0], headings[1], headings[3], headings[4]], words, 'the headings looked for are the table\'s');
    const flat = (text) => text.replace(/[\s\u3000]/g, '');
    const header = new RegExp(words.join('.*'));
    const opening = (text) => text.split('\n').find((row) => row.trim() !== '') ?? '';
    const continued = pages.map((text, index) => ({ text, index })).filter(({ text }) => header.test(flat(opening(text))));
    assert.ok(continued.length > 0, 'some page opens with a KPI table\'s repeated header row');
    for (const { text, index } of continued) {
      const code = text.match(/^\s*(\d+-\d+-\d+-\d+)\s/m)?.[1];
      assert.ok(code, `page ${index + 1} continues a table with a KPI's row`);
      const caption = await page.$eval(`table.kpis:has(tbody tr a[href$="/kpis/${kpis.find((kpi) => kpi.code === code).id}"]) caption`, (node) => node.textContent);
      // The page where the table began: its caption, then the same header row.
      const began = pages.findLastIndex((other, before) => before < index && flat(other).includes(flat(caption)));
      assert.ok(began >= 0, `the table of ${code} (${caption}) begins on an earlier page`);
      assert.match(flat(pages[began]).split(flat(caption))[1], header, `page ${began + 1} shows the header under ${caption}`);
      for (let between = began + 1; between <= index; between += 1) {
        assert.match(flat(opening(pages[between])), header, `page ${between + 1}, within ${caption}, opens with its header`);
      }
    }
  } finally {
    await page.emulateMedia({ media: 'screen' });
    await page.setViewportSize({ width: 1280, height: 900 });
  }
});

await check('the report of a frozen evaluation shows what it froze', async () => {
  await visit(`/plans/${plan.id}?evaluation=${evaluation.id}`);
  assert.ok((await page.textContent('.standing')).includes('令和4年度 総合戦略評価'));
  const frozen = await get(`/api/v1/plans/${plan.id}/evaluations/${evaluation.id}`);
  const rows = await kpiRows();
  assert.equal(rows.length, frozen.items.length);
  for (const item of frozen.items) {
    const row = rows.find((candidate) => candidate.href.endsWith(`/kpis/${item.kpi_id}`));
    assert.equal(row.cells['達成率'], percent(item.achievement), item.kpi_code);
    assert.equal(row.cells['進捗状況'], LABELS[item.status], item.kpi_code);
  }
  const laterRow = rows.find((row) => row.href.endsWith(`/kpis/${later.id}`));
  const heading = Object.keys(laterRow.cells).find((h) => h.includes('(2022)'));
  assert.equal(laterRow.cells[heading], cellText(frozenResult), 'a correction made after the evaluation is not shown');
  await axe('the report of an evaluation');
  // The page's own forms: a date, then an evaluation again, each on its own.
  await page.fill('#as_of', '2020-01-01');
  await Promise.all([page.waitForNavigation(), page.click('form:has(#as_of) button')]);
  assert.equal(new URL(page.url()).search, '?as_of=2020-01-01');
  assert.ok((await page.textContent('.summary-line')).includes('未把握 45'));
  await axe('the report as of a date');
  await page.selectOption('#evaluation', String(evaluation.id));
  await Promise.all([page.waitForNavigation(), page.click('form:has(#evaluation) button')]);
  assert.equal(new URL(page.url()).search, `?evaluation=${evaluation.id}`);
  assert.ok((await page.textContent('.standing')).includes('令和4年度 総合戦略評価'));
  await screenshot('report-evaluation');
});

await check('a KPI page: chart with a text alternative, results, commentary, revisions, data links', async () => {
  await visit(`/plans/${plan.id}/kpis/${revised.id}`);
  const svg = page.locator('figure.chart svg');
  assert.equal(await svg.getAttribute('role'), 'img');
  assert.ok((await page.textContent('figure.chart figcaption')).includes('基準値'));
  const results = (await get(`/api/v1/kpis/${revised.id}/results`)).items;
  const shown = await page.$$eval('table.results tbody tr', (rows) => rows.map((row) => row.children[1].textContent.trim()));
  assert.deepEqual(shown, results.reverse().map((result) => `${grouped(result.value_text)} ${revised.unit}`));
  const text = await page.textContent('main');
  for (const expected of ['取組の周知が進み、参加者が増えた。', '事業の対象を広げる。', '国の目標の見直しに合わせて上方修正', '速報値', '市民意識調査']) {
    assert.ok(text.includes(expected), expected);
  }
  const followed = await followTyped('section[aria-labelledby="data"] a');
  for (const href of [`/api/v1/kpis/${revised.id}`, `/api/v1/kpis/${revised.id}/results`, `/api/v1/kpis/${revised.id}/chart.svg`,
    `/api/v1/kpis?plan=${plan.id}&code=${encodeURIComponent(revised.code)}&format=csv`,
    `/api/v1/plans/${plan.id}/export`, `/api/v1/plans/${plan.id}/export.zip`]) {
    assert.ok(followed.includes(href), `the KPI page links ${href}`);
  }
  await axe('a KPI page');
  await screenshot('kpi');
  await visit(`/plans/${plan.id}/kpis/${unmeasured.id}`);
  assert.ok((await page.textContent('table.results')).includes('測定不能'));
  await axe('a KPI page without a measured result');
});

await check('the vocabulary of the JSON-LD: an anchor for every field of a KPI, accessibly', async () => {
  await visit('/vocab');
  const kpi = (await api('GET', `/api/v1/kpis/${revised.id}`, undefined, { Accept: 'application/ld+json' })).json;
  const anchors = new Set(await page.$$eval('[id]', (nodes) => nodes.map((node) => node.id)));
  const missing = Object.keys(kpi).filter((key) => !key.startsWith('@') && !anchors.has(key));
  assert.deepEqual(missing, [], 'every field has its term on /vocab');
  assert.ok(anchors.has(kpi['@type']), `the class ${kpi['@type']} is there`);
  await axe('the vocabulary page');
  await screenshot('vocab');
});

await check("the change stream in the browser's own EventSource: a result recorded now arrives, named by its cursor", async () => {
  await visit('/vocab');
  const since = (await get('/api/v1/changes?limit=1')).latest_cursor;
  const arrived = page.evaluate((since) => new Promise((resolve, reject) => {
    const source = new EventSource(`/api/v1/changes/stream?since=${since}`);
    const timer = setTimeout(() => { source.close(); reject(new Error('no change within 10 s')); }, 10000);
    source.addEventListener('change', (event) => {
      clearTimeout(timer);
      source.close();
      resolve({ lastEventId: event.lastEventId, data: JSON.parse(event.data) });
    });
  }), since);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await api('PUT', `/api/v1/kpis/${unmeasured.id}/results/2023`, { value: unmeasured.target.value_text });
  const { lastEventId, data } = await arrived;
  assert.equal(lastEventId, String(since + 1));
  assert.deepEqual([data.cursor, data.operation], [since + 1, 'create']);
});

await check('an unknown page says so, accessibly', async () => {
  await visit('/plans/999', 404);
  assert.ok((await page.textContent('h1')).includes('見つかりません'));
  await axe('the error page');
});

await context.close();
writeFileSync(`${out}/summary.txt`, `${passed} passed, ${failures.length} failed\n${failures.join('\n')}\n`);
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length === 0 ? 0 : 1);
