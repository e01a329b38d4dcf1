// npm `openid-client` (v6) against the hub's hardened provider: what a third-party relying party
// sees of discovery, the JWKS of a fresh hub and an RS256 ID token it verifies, PKCE enforcement,
// introspection by a public client, the error format and WWW-Authenticate of a refused client,
// a suspended organization's client credentials grant, and logout without `state`.
// Prints one JSON object per step on stdout.
//
// env: ISSUER, EMAIL, STEPS (comma-separated), and the clients a step uses:
//   CONF_ID/CONF_SECRET (client_secret_basic), RS_ID/RS_SECRET (RS256 ID tokens, and a
//   post-logout URI REDIRECT/../signed-out), SVC_ID/SVC_SECRET (client credentials), POST_ID
//   (client_secret_post), PUB_ID (public), PKJ_ID/PKJ_KEY (private_key_jwt, a private JWK);
//   REDIRECT is every client's redirect URI. STEPS=keygen prints a new client key pair.
import * as client from 'openid-client';

const issuer = new URL(process.env.ISSUER);
const env = (k) => process.env[k];
const out = (step, data) => console.log(JSON.stringify({ step, ...data }));
const insecure = { execute: [client.allowInsecureRequests] };
const redirectUri = env('REDIRECT');

const jar = new Map();
async function go(url, init = {}) {
  const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const r = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers || {}), cookie } });
  for (const c of r.headers.getSetCookie()) {
    const [kv] = c.split(';');
    const i = kv.indexOf('=');
    const [k, v] = [kv.slice(0, i), kv.slice(i + 1)];
    if (v === '' || /max-age=0/i.test(c)) jar.delete(k); else jar.set(k, v);
  }
  return r;
}

// Follows redirects until the redirect URI, signing in on the hub's development form if asked.
async function browse(startUrl) {
  let r = await go(startUrl);
  let loc = r.headers.get('location');
  for (let hops = 0; hops < 10; hops++) {
    if (!loc) throw new Error(`stuck at HTTP ${r.status}: ${(await r.text()).slice(0, 300)}`);
    if (loc.startsWith(redirectUri)) return new URL(loc);
    const next = new URL(loc, issuer);
    if (next.pathname === '/login') {
      r = await go(next);
      r = await go(new URL('/login', issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ request: next.searchParams.get('request'), email: env('EMAIL') }),
      });
    } else {
      r = await go(next);
    }
    loc = r.headers.get('location');
  }
  throw new Error('too many redirects');
}

// Code flow with PKCE, state and nonce; returns the token response.
async function signIn(config, scope = 'openid email') {
  const code_verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope, state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier), code_challenge_method: 'S256',
  });
  const callback = await browse(url);
  return client.authorizationCodeGrant(config, callback,
    { pkceCodeVerifier: code_verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
}

// What openid-client made of a refusal.
function refusal(e) {
  return {
    kind: e?.constructor?.name, code: e?.code, error: e?.error, status: e?.status ?? e?.response?.status,
    description: e?.error_description, schemes: Array.isArray(e?.cause) ? e.cause.map((c) => c.scheme) : undefined,
    message: String(e?.message ?? e),
  };
}

async function expectRefusal(fn) {
  try { await fn(); } catch (e) { return refusal(e); }
  return { kind: 'none' };
}

const secretBasic = (id, secret) => client.discovery(issuer, id, undefined, client.ClientSecretBasic(secret), insecure);

const steps = {
  async keygen() {
    const { publicKey, privateKey } = await crypto.subtle.generateKey(
      { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const pub = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'rp-1', alg: 'ES256', use: 'sig' };
    delete pub.key_ops; delete pub.ext;
    out('keygen', { public: pub, private: { ...(await crypto.subtle.exportKey('jwk', privateKey)), kid: 'rp-1' } });
  },

  // Read first, as a relying party does at start-up (and caches): RS256 must be in it already.
  async fresh_jwks_rs256() {
    const config = await secretBasic(env('RS_ID'), env('RS_SECRET'));
    const jwks = await (await fetch(config.serverMetadata().jwks_uri)).json();
    client.enableNonRepudiationChecks(config);
    const tokens = await signIn(config);
    const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url'));
    out('fresh_jwks_rs256', { algsBefore: jwks.keys.map((k) => k.alg), header,
      kidPublishedBefore: jwks.keys.some((k) => k.kid === header.kid), sub: tokens.claims().sub });
  },

  async discovery() {
    const key = JSON.parse(env('PKJ_KEY'));
    const privateKey = await crypto.subtle.importKey('jwk', key, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const config = await client.discovery(issuer, env('PKJ_ID'), undefined,
      client.PrivateKeyJwt({ key: privateKey, kid: key.kid }), insecure);
    const m = config.serverMetadata();
    const tokens = await client.clientCredentialsGrant(config, { scope: 'reports:read' });
    const introspected = await client.tokenIntrospection(config, tokens.access_token);
    await client.tokenRevocation(config, tokens.access_token);
    const after = await client.tokenIntrospection(config, tokens.access_token);
    out('discovery', {
      token: m.token_endpoint_auth_signing_alg_values_supported,
      introspection: m.introspection_endpoint_auth_signing_alg_values_supported,
      revocation: m.revocation_endpoint_auth_signing_alg_values_supported,
      prompts: m.prompt_values_supported, pkce: m.code_challenge_methods_supported,
      activeBefore: introspected.active, activeAfterRevocation: after.active,
    });
  },

  // A confidential client that leaves PKCE out gets the error back at its redirect URI.
  async pkce() {
    const config = await secretBasic(env('CONF_ID'), env('CONF_SECRET'));
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid', state });
    const callback = await browse(url);
    const refused = await expectRefusal(() => client.authorizationCodeGrant(config, callback, { expectedState: state }));
    out('pkce', refused);
  },

  async public_introspection() {
    const config = await client.discovery(issuer, env('PUB_ID'), undefined, client.None(), insecure);
    const tokens = await signIn(config);
    const refused = await expectRefusal(() => client.tokenIntrospection(config, tokens.access_token));
    let revoked = true;
    try { await client.tokenRevocation(config, tokens.refresh_token); } catch { revoked = false; }
    out('public_introspection', { ...refused, revokedOwn: revoked });
  },

  async errors() {
    const post = await client.discovery(issuer, env('POST_ID'), undefined, client.ClientSecretPost('wrong'), insecure);
    const basic = await secretBasic(env('CONF_ID'), 'wrong');
    out('errors', {
      post: await expectRefusal(() => client.clientCredentialsGrant(post)),
      postIntrospection: await expectRefusal(() => client.tokenIntrospection(post, 'x')),
      basic: await expectRefusal(() => client.clientCredentialsGrant(basic)),
    });
  },

  async suspended() {
    const config = await secretBasic(env('SVC_ID'), env('SVC_SECRET'));
    out('suspended', await expectRefusal(() => client.clientCredentialsGrant(config)));
  },

  async logout_no_state() {
    const config = await secretBasic(env('RS_ID'), env('RS_SECRET'));
    const tokens = await signIn(config);
    const signedOut = redirectUri.replace(/\/[^/]*$/, '/signed-out');
    const url = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: signedOut });
    const r = await go(url);
    out('logout_no_state', { status: r.status, location: r.headers.get('location'), expected: signedOut });
  },
};

try {
  for (const name of env('STEPS').split(',')) await steps[name]();
  out('done', {});
} catch (e) {
  out('error', { message: String(e?.message ?? e), error: e?.error, cause: String(e?.cause?.message ?? '') });
  process.exit(1);
}
