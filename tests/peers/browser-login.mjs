// End to end in headless Chromium (npm playwright-core, Debian chromium): a downstream app
// built on npm `openid-client` sends the person to the hub, the hub sends them to their
// company's IdP, they type their password there, and the app shows the ID token claims the
// hub issued.
// env: ISSUER (the hub), APP_PORT (the app's redirect URI is http://127.0.0.1:APP_PORT/cb), CLIENT_ID, CLIENT_SECRET, LOGIN, PASSWORD, SHOTS (screenshot dir),
//      NAME (screenshot prefix), EMAIL (typed if the hub asks for a work email).
// Prints {"claims":{...},"tokens":{access_token,id_token}} or {"error":...}, and {"page": text}
// of the last page on failure.
import http from 'node:http';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const { ISSUER, CLIENT_ID, CLIENT_SECRET, LOGIN, PASSWORD, SHOTS, NAME } = process.env;
const app = http.createServer();
await new Promise((r) => app.listen(Number(process.env.APP_PORT || 0), '127.0.0.1', r));
const APP = `http://127.0.0.1:${app.address().port}`;
const config = await client.discovery(new URL(ISSUER), CLIENT_ID, undefined, client.ClientSecretBasic(CLIENT_SECRET),
  { execute: [client.allowInsecureRequests] });
const pending = {};
let result;
app.on('request', async (req, res) => {
  const url = new URL(req.url, APP);
  try {
    if (url.pathname === '/login') {
      pending.verifier = client.randomPKCECodeVerifier();
      pending.state = client.randomState();
      pending.nonce = client.randomNonce();
      const to = client.buildAuthorizationUrl(config, {
        redirect_uri: `${APP}/cb`, scope: 'openid email profile groups',
        code_challenge: await client.calculatePKCECodeChallenge(pending.verifier),
        code_challenge_method: 'S256', state: pending.state, nonce: pending.nonce,
      });
      res.writeHead(302, { location: to.href }); return res.end();
    }
    if (url.pathname === '/cb') {
      const tokens = await client.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce,
      });
      result = { claims: tokens.claims(),
        tokens: { access_token: tokens.access_token, id_token: tokens.id_token } };
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(`<!doctype html><h1>Signed in</h1><pre id="claims">${JSON.stringify(result.claims, null, 2).replace(/</g, '&lt;')}</pre>`);
    }
  } catch (e) {
    result = { error: String(e.message || e) };
    res.writeHead(500); return res.end(result.error);
  }
  res.writeHead(404); res.end();
});

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
const shot = (step) => (SHOTS ? page.screenshot({ path: `${SHOTS}/${NAME}-${step}.png` }) : null);
try {
  await page.goto(`${APP}/login`);
  if (await page.locator('input[name=email]').count()) {
    await shot('1-hub-email');
    await page.fill('input[name=email]', process.env.EMAIL);
    await page.click('button[type=submit]');
  }
  await page.waitForSelector('input[name=password]', { timeout: 15000 });
  await shot('2-idp-login');
  await page.fill('input[name=login]', LOGIN);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button');
  // A SAML IdP answers with a page that posts the response on to the hub by itself.
  await page.waitForURL((u) => u.href.startsWith(`${APP}/cb`), { timeout: 15000 }).catch(() => {});
  await page.waitForLoadState('load');
  await page.waitForFunction(() => document.readyState === 'complete');
  await shot('3-back-in-app');
  if (!result) result = { error: 'no callback reached the app' };
  if (result.error) result.page = await page.textContent('body');
} catch (e) {
  result = { error: String(e.message || e), page: await page.textContent('body').catch(() => '') };
} finally {
  await browser.close();
  app.close();
}
console.log(JSON.stringify(result));
process.exit(0);
