// The console from an attacker's side, in headless Chromium (npm playwright-core, Debian
// chromium): a person signs in at /console with their work email and their company IdP's
// password, then opens each page given. For each it reports the HTML the hub served, the text a
// person sees, what the DOM holds that could run script (elements that load or run something,
// scripts, event-handler attributes, attribute values that are `javascript:` URLs) and every
// dialog the page opened (an injected `alert(1)` would be one).
// env: HUB (the hub's URL), EMAIL, LOGIN, PASSWORD (at the IdP), PAGES (a JSON array of paths)
// Prints a first line {step: "signed-in", url, text}, then one line per page:
// {path, status, html, text, dom: {loads, scripts, handlers, jsUrls}, dialogs};
// {"error": ...} on failure.
import { chromium } from 'playwright-core';

const { HUB, EMAIL, LOGIN, PASSWORD } = process.env;
const paths = JSON.parse(process.env.PAGES || '[]');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
const dialogs = [];
page.on('dialog', (d) => {
  dialogs.push({ type: d.type(), message: d.message() });
  d.dismiss().catch(() => {});
});
const out = (o) => console.log(JSON.stringify(o));
try {
  await page.goto(`${HUB}/console`);
  await page.waitForSelector('input[name=email]', { timeout: 15000 });
  await page.fill('input[name=email]', EMAIL);
  await page.click('button[type=submit]');
  await page.waitForSelector('input[name=password]', { timeout: 15000 });
  await page.fill('input[name=login]', LOGIN);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button');
  await page.waitForURL((u) => u.pathname === '/console', { timeout: 15000 });
  out({ step: 'signed-in', url: page.url(), text: await page.textContent('main') });
  for (const path of paths) {
    const resp = await page.goto(`${HUB}${path}`, { waitUntil: 'load' });
    // Time for anything injected to run (an image's onerror, a deferred script).
    await page.waitForTimeout(300);
    const dom = await page.evaluate(() => {
      const all = [...document.querySelectorAll('*')];
      const attrs = all.flatMap((el) => [...el.attributes].map((a) => [el.tagName.toLowerCase(), a]));
      return {
        loads: document.querySelectorAll('img, image, iframe, frame, object, embed, video, audio, source, base').length,
        scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src') || `inline: ${s.textContent}`),
        handlers: attrs.filter(([, a]) => a.name.toLowerCase().startsWith('on')).map(([t, a]) => `${t} ${a.name}`),
        jsUrls: attrs.filter(([, a]) => /^[\s\u0000-\u001f]*javascript:/i.test(a.value)).map(([t, a]) => `${t} ${a.name}`),
      };
    });
    out({
      path, status: resp.status(), html: await resp.text(), text: await page.textContent('body'), dom,
      dialogs: dialogs.splice(0),
    });
  }
} catch (e) {
  out({ error: String(e.message || e), url: page.url(), page: await page.textContent('body').catch(() => '') });
} finally {
  await browser.close();
}
process.exit(0);
