// A downstream application using npm `openid-client` (v6) against the hub: discovery, code +
// PKCE + state + nonce, ID token validation, userinfo, refresh, revocation, and RP-initiated
// logout. The "browser" is fetch with a cookie jar, following redirects by hand and filling the
// hub's development sign-in form. Prints one JSON object per step on stdout.
//
// env: ISSUER, EMAIL, and per app APPn_ID / APPn_SECRET / APPn_REDIRECT (n = 1, 2; APP2 optional).
import * as client from 'openid-client';

const issuer = new URL(process.env.ISSUER);
const email = process.env.EMAIL;
const out = (step, data) => console.log(JSON.stringify({ step, ...data }));

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

// Follows redirects until the app's redirect URI, signing in on the hub's page if asked.
async function browse(startUrl, redirectUri) {
  let r = await go(startUrl);
  let loc = r.headers.get('location');
  let signedIn = false;
  for (let hops = 0; hops < 10; hops++) {
    if (!loc) throw new Error(`stuck at HTTP ${r.status}: ${(await r.text()).slice(0, 300)}`);
    if (loc.startsWith(redirectUri)) return { callback: new URL(loc), signedIn };
    const next = new URL(loc, issuer);
    if (next.pathname === '/login') {
      r = await go(next);
      if (r.status !== 200) throw new Error(`login page HTTP ${r.status}`);
      const request = next.searchParams.get('request');
      r = await go(new URL('/login', issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ request, email }),
      });
      signedIn = true;
    } else {
      r = await go(next);
    }
    loc = r.headers.get('location');
  }
  throw new Error('too many redirects');
}

async function signIn(n) {
  const id = process.env[`APP${n}_ID`];
  const secret = process.env[`APP${n}_SECRET`];
  const redirectUri = process.env[`APP${n}_REDIRECT`];
  const config = await client.discovery(issuer, id, undefined, client.ClientSecretBasic(secret),
    { execute: [client.allowInsecureRequests] });
  const code_verifier = client.randomPKCECodeVerifier();
  const code_challenge = await client.calculatePKCECodeChallenge(code_verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid email profile groups', code_challenge,
    code_challenge_method: 'S256', state, nonce, login_hint: email,
  });
  const { callback, signedIn } = await browse(authUrl, redirectUri);
  const tokens = await client.authorizationCodeGrant(config, callback,
    { pkceCodeVerifier: code_verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  const claims = tokens.claims();
  out('login', { app: n, signedIn, iss_param: callback.searchParams.get('iss'), claims,
    header: JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url')) });
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  out('userinfo', { app: n, userinfo });
  return { config, tokens, claims };
}

try {
  const one = await signIn(1);
  // Refresh: a new access token and a rotated refresh token.
  const refreshed = await client.refreshTokenGrant(one.config, one.tokens.refresh_token);
  out('refresh', { rotated: refreshed.refresh_token !== one.tokens.refresh_token,
    new_access: refreshed.access_token !== one.tokens.access_token, sub: refreshed.claims()?.sub });
  // Revocation of the first (already rotated) refresh token family.
  await client.tokenRevocation(one.config, refreshed.refresh_token);
  let refusedAfterRevoke = false;
  try { await client.refreshTokenGrant(one.config, refreshed.refresh_token); } catch (e) {
    refusedAfterRevoke = e.error === 'invalid_grant';
  }
  const introspected = await client.tokenIntrospection(one.config, refreshed.access_token);
  out('revoke', { refusedAfterRevoke, accessActiveAfterRevoke: introspected.active });

  if (process.env.APP2_ID) {
    // A second application in the same browser: the hub session is reused, no sign-in.
    const two = await signIn(2);
    const fresh = await client.refreshTokenGrant(one.config, (await signIn(1)).tokens.refresh_token);
    // RP-initiated logout from app 1, with an ID token hint.
    const endUrl = client.buildEndSessionUrl(one.config, {
      id_token_hint: fresh.id_token ?? one.tokens.id_token,
      post_logout_redirect_uri: process.env.APP1_REDIRECT.replace('/callback', '/signed-out'),
      state: 'bye',
    });
    const r = await go(endUrl);
    out('logout', { status: r.status, location: r.headers.get('location'), sid: two.claims.sid,
      refresh_token: fresh.refresh_token, access_token: fresh.access_token });
    let refusedAfterLogout = false;
    try { await client.refreshTokenGrant(one.config, fresh.refresh_token); } catch (e) {
      refusedAfterLogout = e.error === 'invalid_grant';
    }
    const after = await client.tokenIntrospection(one.config, fresh.access_token);
    out('after_logout', { refusedAfterLogout, accessActive: after.active });
  }
  out('done', {});
} catch (e) {
  out('error', { message: String(e?.message ?? e), error: e?.error, cause: String(e?.cause?.message ?? '') });
  process.exit(1);
}
