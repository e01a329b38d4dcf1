// npm `oidc-provider` (panva) as the benchmark peer for the token endpoint: the same flow the
// hub's benchmark measures (authorization code + PKCE S256, client_secret_basic, ES256 ID token
// and JWT access token). It serves on 127.0.0.1:PORT, signs in N times through its own login
// interaction to mint N codes, prints them as one JSON line, and keeps serving until killed, so
// that the hub's benchmark client exchanges them exactly as it exchanges the hub's codes.
// env: PORT, N. Adapted from the shared peers' oidc-op.mjs.
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT || 9000);
const N = Number(process.env.N || 1000);
const ISSUER = `http://127.0.0.1:${PORT}`;
const REDIRECT_URI = 'http://127.0.0.1:9/cb';

const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', use: 'sig', alg: 'ES256' };

// The bundled in-memory adapter is an LRU of 1000 entries (about 250 sign-ins); the benchmark
// keeps thousands of codes alive, so it stores models in plain Maps.
const stores = new Map();
class MapAdapter {
  constructor(name) { this.name = name; if (!stores.has(name)) stores.set(name, new Map()); this.m = stores.get(name); }
  async upsert(id, payload) { this.m.set(id, payload); if (payload.grantId) { const g = stores.get('grants') ?? new Map(); stores.set('grants', g); (g.get(payload.grantId) ?? g.set(payload.grantId, []).get(payload.grantId)).push([this.name, id]); } if (payload.uid) this.m.set(`uid:${payload.uid}`, id); }
  async find(id) { return this.m.get(id); }
  async findByUid(uid) { const id = this.m.get(`uid:${uid}`); return id ? this.m.get(id) : undefined; }
  async findByUserCode() { return undefined; }
  async consume(id) { const p = this.m.get(id); if (p) p.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { this.m.delete(id); }
  async revokeByGrantId(grantId) { for (const [name, id] of stores.get('grants')?.get(grantId) ?? []) stores.get(name)?.delete(id); }
}

const provider = new Provider(ISSUER, {
  adapter: MapAdapter,
  clients: [{
    client_id: 'bench', client_secret: 'bench-secret', redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: ['bench-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  features: {
    devInteractions: { enabled: false },
    // JWT access tokens, like the hub's.
    resourceIndicators: {
      enabled: true, defaultResource: () => 'urn:bench', useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'openid email', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
    },
  },
  pkce: { required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub, email: `${sub}@bench.test`, email_verified: true }; } };
  },
  ttl: { AccessToken: 600, AuthorizationCode: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
});

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const result = {};
  if (details.prompt.name === 'login') result.login = { accountId: 'alice' };
  const grant = details.grantId ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: 'alice', clientId: details.params.client_id });
  grant.addOIDCScope('openid email');
  grant.addResourceScope('urn:bench', 'openid email');
  result.consent = { grantId: await grant.save() };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const handler = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    return interaction(req, res).catch((e) => { res.writeHead(400); res.end(String(e.message)); });
  }
  return handler(req, res);
});
server.keepAliveTimeout = 60_000;

const b64 = (b) => Buffer.from(b).toString('base64url');
async function mintCode() {
  const jar = new Map();
  const go = async (url, init = {}) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(new URL(url, ISSUER), { ...init, redirect: 'manual', headers: { cookie } });
    for (const c of r.headers.getSetCookie()) { const [kv] = c.split(';'); const i = kv.indexOf('='); jar.set(kv.slice(0, i), kv.slice(i + 1)); }
    return r;
  };
  const verifier = b64(crypto.randomBytes(32));
  const challenge = b64(crypto.createHash('sha256').update(verifier).digest());
  const q = new URLSearchParams({ client_id: 'bench', redirect_uri: REDIRECT_URI, response_type: 'code',
    scope: 'openid email', code_challenge: challenge, code_challenge_method: 'S256', nonce: 'n', state: 's' });
  let r = await go(`/auth?${q}`);
  for (let i = 0; i < 8; i++) {
    const loc = r.headers.get('location');
    if (loc && loc.startsWith(REDIRECT_URI)) return { code: new URL(loc).searchParams.get('code'), verifier };
    if (!loc) throw new Error(`no redirect (HTTP ${r.status})`);
    r = await go(loc);
  }
  throw new Error('too many redirects');
}

server.listen(PORT, '127.0.0.1', async () => {
  const codes = [];
  for (let i = 0; i < N; i++) codes.push(await mintCode());
  console.log(JSON.stringify({ ready: true, issuer: ISSUER, client_id: 'bench', client_secret: 'bench-secret', redirect_uri: REDIRECT_URI, codes }));
});
