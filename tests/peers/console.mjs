// The hub's web console in headless Chromium (npm playwright-core, Debian chromium): a person
// signs in at /console with their work email, types their password at their company's IdP,
// and then walks the steps given, with a screenshot of each.
// env: HUB (the hub's URL), EMAIL, LOGIN, PASSWORD (at the IdP), SHOTS (screenshot dir), NAME
//      (screenshot prefix), STEPS: a JSON array of
//        {"goto": "/console/..."}                      open a page
//        {"click": "Accept", "on": "/console/spaces"}  open a page, press the button with that text
//          (with "open": a <details> summary to open first, "fill"/"select": {selector: value})
//        {"post": "/console/...", "csrf": true}        POST from the page (with the page's CSRF token
//                                                       if csrf, else none; "form": more fields)
//        {"fetch": "/console/audit/export?format=csv"} GET, reporting status and the first bytes
//        {"wait": 2000}                                 let the hub work (a sync started) for a while
//        {"until": "/console/setup", "text": "..."}    reload a page until its text appears (the
//                                                       test moves the hub's clock meanwhile)
//        {"reauth": "Sign in again"}                   press that button on the current page and
//                                                       sign in again at the IdP (as "login" with
//                                                       "password" if given, else as LOGIN)
//        {"press": "Make the change"}                  press a button on the current page
// Prints one JSON line per step: {step, status, url, text, csp}; {"error": ...} on failure.
import { chromium } from 'playwright-core';

const { HUB, EMAIL, LOGIN, PASSWORD, SHOTS, NAME } = process.env;
const steps = JSON.parse(process.env.STEPS || '[]');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
page.on('dialog', (d) => d.accept());
let n = 0;
const shot = (step) => (SHOTS ? page.screenshot({ path: `${SHOTS}/${NAME}-${String(++n).padStart(2, '0')}-${step}.png`, fullPage: true }) : null);
const out = (o) => console.log(JSON.stringify(o));
try {
  await page.goto(`${HUB}/console`);
  await page.waitForSelector('input[name=email]', { timeout: 15000 });
  await shot('console-sign-in');
  await page.fill('input[name=email]', EMAIL);
  await page.click('button[type=submit]');
  await page.waitForSelector('input[name=password]', { timeout: 15000 });
  await shot('idp-login');
  await page.fill('input[name=login]', LOGIN);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button');
  await page.waitForURL((u) => u.pathname === '/console', { timeout: 15000 });
  await shot('home');
  out({ step: 'signed-in', url: page.url(), text: await page.textContent('main') });
  for (const s of steps) {
    if (s.wait) {
      await page.waitForTimeout(s.wait);
      out({ step: s });
    } else if (s.until) {
      let resp;
      let text = '';
      const deadline = Date.now() + 20000;
      for (let i = 0; !text.includes(s.text) && (i === 0 || Date.now() < deadline); i += 1) {
        if (i) await page.waitForTimeout(250);
        resp = await page.goto(`${HUB}${s.until}`);
        text = await page.textContent('main');
      }
      await shot(`until-${s.until.replace(/[^a-z0-9]+/gi, '-')}`);
      out({ step: s, status: resp.status(), url: page.url(), text });
    } else if (s.reauth) {
      await Promise.all([
        page.waitForSelector('input[name=password]', { timeout: 15000 }),
        page.getByRole('button', { name: s.reauth }).first().click(),
      ]);
      await shot(`reauth-idp-${s.login || LOGIN}`);
      const idp = await page.textContent('body');
      const login = s.login || LOGIN;
      await page.fill('input[name=login]', login);
      await page.fill('input[name=password]', s.password || `${login}-pw`);
      await Promise.all([
        page.waitForURL((u) => u.origin === new URL(HUB).origin, { timeout: 15000 }),
        page.click('button'),
      ]);
      await shot(`reauth-back-${s.login || LOGIN}`);
      const main = (await page.locator('main').count()) ? 'main' : 'body';
      out({ step: s, url: page.url(), idp, text: await page.textContent(main) });
    } else if (s.press) {
      await Promise.all([
        page.waitForNavigation({ timeout: 15000 }),
        page.getByRole('button', { name: s.press }).first().click(),
      ]);
      await shot(`press-${s.press.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`);
      out({ step: s, url: page.url(), text: await page.textContent('main') });
    } else if (s.goto || s.click) {
      const resp = await page.goto(`${HUB}${s.goto || s.on}`);
      const name = (s.goto || s.on).replace(/[^a-z0-9]+/gi, '-');
      if (s.open) await page.locator('summary', { hasText: s.open }).click();
      for (const [sel, val] of Object.entries(s.fill || {})) await page.fill(sel, val);
      for (const [sel, val] of Object.entries(s.select || {})) await page.selectOption(sel, val);
      if (s.click) {
        await Promise.all([
          page.waitForNavigation({ timeout: 15000 }),
          page.getByRole('button', { name: s.click }).first().click(),
        ]);
        await shot(`${name}-${s.click.toLowerCase()}`);
        out({ step: s, status: 200, url: page.url(), text: await page.textContent('main') });
      } else {
        await shot(name);
        out({ step: s, status: resp.status(), url: page.url(), text: await page.textContent('main'),
          csp: resp.headers()['content-security-policy'] || null });
      }
    } else if (s.post) {
      // The browser context's own request client: the same cookies as the page (the console's
      // CSP lets no script of the page fetch anything).
      const token = await page.locator('input[name=csrf]').first().getAttribute('value').catch(() => '');
      const r = await page.request.post(`${HUB}${s.post}`, {
        form: { ...(s.form || {}), ...(s.csrf ? { csrf: token || '' } : {}) }, maxRedirects: 0,
        headers: { origin: new URL(HUB).origin },
      });
      out({ step: s, status: r.status(), text: (await r.text()).replace(/<[^>]+>/g, ' ') });
    } else if (s.fetch) {
      const r = await page.request.get(`${HUB}${s.fetch}`);
      out({ step: s, status: r.status(), type: r.headers()['content-type'], text: (await r.text()).slice(0, 200000) });
    }
  }
} catch (e) {
  out({ error: String(e.message || e), url: page.url(), page: await page.textContent('body').catch(() => '') });
} finally {
  await browser.close();
}
process.exit(0);
