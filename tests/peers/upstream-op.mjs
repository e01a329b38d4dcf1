// A company's upstream OpenID Provider: npm `oidc-provider` with real password checks and a
// plain login form at /interaction/:uid (consent granted automatically). Loopback only.
// env: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ACCOUNTS (JSON: {login: {password, claims}});
// optional IDP_HOST (default 127.0.0.1), IDP_PORT (default a free one) and IDP_ISSUER (default the listen
// address), as the sample IdP of deploy/compose.yaml sets them.
// Prints {"ready":true,"issuer":...} once listening.
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const ACCOUNTS = JSON.parse(process.env.ACCOUNTS || '{}');
const server = http.createServer();
await new Promise((r) => server.listen(Number(process.env.IDP_PORT || 0), process.env.IDP_HOST || '127.0.0.1', r));
const ISSUER = process.env.IDP_ISSUER || `http://127.0.0.1:${server.address().port}`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'upstream-rs256', use: 'sig', alg: 'RS256' };

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const acct = ACCOUNTS[sub];
    if (!acct) return undefined;
    return { accountId: sub, async claims() { return { sub, ...acct.claims }; } };
  },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
});

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const readBody = (r) => new Promise((resolve, reject) => {
  let d = ''; r.on('data', (c) => { d += c; }); r.on('end', () => resolve(new URLSearchParams(d))); r.on('error', reject);
});

async function interaction(req, res) {
  try {
    const details = await provider.interactionDetails(req, res);
    const { uid, prompt, params, session } = details;
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(`<!doctype html><title>Company sign-in</title><h1>Company sign-in</h1>
<form method="post" action="/interaction/${esc(uid)}">
<label>User <input name="login" value="${esc(params.login_hint || '')}"></label>
<label>Password <input name="password" type="password"></label><button>Sign in</button></form>`);
      return;
    }
    const body = await readBody(req);
    let accountId = session?.accountId;
    const result = {};
    if (prompt.name === 'login') {
      const acct = ACCOUNTS[body.get('login')];
      if (!acct || acct.password !== body.get('password')) {
        res.writeHead(401, { 'content-type': 'text/plain' }); res.end('invalid credentials'); return;
      }
      accountId = body.get('login');
      result.login = { accountId };
    }
    // Another person signing in at the same browser gets their own grant, not the last one's.
    let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    if (!grant || grant.accountId !== accountId) grant = new provider.Grant({ accountId, clientId: params.client_id });
    grant.addOIDCScope(String(params.scope || 'openid'));
    if (prompt.details?.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    result.consent = { grantId: await grant.save() };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' }); res.end(`interaction error: ${err.message}`);
  }
}

const handler = provider.callback();
server.on('request', (req, res) => (req.url.startsWith('/interaction/') ? interaction(req, res) : handler(req, res)));
console.log(JSON.stringify({ ready: true, issuer: ISSUER, pid: process.pid }));
