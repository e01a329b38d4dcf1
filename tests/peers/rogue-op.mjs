// A misbehaving OpenID Provider for the hub's attack tests, built on npm `jose`: it answers
// every authorization request at once (no login) and signs ID tokens (RS256) whose claims it
// was told to get wrong. Loopback only.
// env: CLIENT_ID, EMAIL. Prints {"ready":true,"issuer":...}.
// POST /__mode with a JSON body sets what the next tokens get wrong:
//   {"nonce": "x"} a foreign nonce; {"aud": "x"} another audience; {"iss": "x"} another issuer;
//   {"email": "x"} another email; {"sub": "x"} another subject; {"alg": "none"} an unsigned
//   token; {"exp": -60} expired; {"auth_time": -3600} an auth_time that long before now (none
//   by default); {"meta": {...}} fields merged into the discovery document
//   (endpoints pointing elsewhere).
import http from 'node:http';
import crypto from 'node:crypto';
import * as jose from 'jose';

const server = http.createServer();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const ISSUER = `http://127.0.0.1:${server.address().port}`;
const { publicKey, privateKey } = await jose.generateKeyPair('RS256');
const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'rogue', alg: 'RS256', use: 'sig' };
const codes = new Map();
let mode = {};

const json = (res, status, v) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };
const readBody = (r) => new Promise((resolve) => { let d = ''; r.on('data', (c) => { d += c; }); r.on('end', () => resolve(d)); });

server.on('request', async (req, res) => {
  const url = new URL(req.url, ISSUER);
  if (url.pathname === '/.well-known/openid-configuration') {
    return json(res, 200, {
      issuer: ISSUER, authorization_endpoint: `${ISSUER}/auth`, token_endpoint: `${ISSUER}/token`,
      jwks_uri: `${ISSUER}/jwks`, response_types_supported: ['code'], subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'], code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      ...(mode.meta || {}),
    });
  }
  if (url.pathname === '/jwks') return json(res, 200, { keys: [jwk] });
  if (url.pathname === '/__mode') { mode = JSON.parse(await readBody(req) || '{}'); return json(res, 200, mode); }
  if (url.pathname === '/auth') {
    const code = crypto.randomBytes(16).toString('hex');
    codes.set(code, { nonce: url.searchParams.get('nonce') });
    const back = new URL(url.searchParams.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', url.searchParams.get('state'));
    back.searchParams.set('iss', ISSUER);
    res.writeHead(303, { location: back.toString() }); return res.end();
  }
  if (url.pathname === '/token') {
    const code = new URLSearchParams(await readBody(req)).get('code');
    const c = codes.get(code);
    if (!c) return json(res, 400, { error: 'invalid_grant' });
    codes.delete(code);
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: mode.iss || ISSUER, aud: mode.aud || process.env.CLIENT_ID, sub: mode.sub || 'rogue-subject',
      nonce: mode.nonce || c.nonce, iat: now, exp: now + (mode.exp || 300),
      email: mode.email || process.env.EMAIL, email_verified: true, name: 'Rogue',
      ...(mode.auth_time === undefined ? {} : { auth_time: now + mode.auth_time }),
    };
    let idToken;
    if (mode.alg === 'none') {
      idToken = `${jose.base64url.encode(JSON.stringify({ alg: 'none' }))}.${jose.base64url.encode(JSON.stringify(claims))}.`;
    } else {
      idToken = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'rogue' }).sign(privateKey);
    }
    return json(res, 200, { access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token: idToken });
  }
  res.writeHead(404); res.end();
});
console.log(JSON.stringify({ ready: true, issuer: ISSUER, pid: process.pid }));
