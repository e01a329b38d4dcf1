// Downstream applications' receivers, as real applications would run them:
//  POST /bcl/<app>   OIDC back-channel logout (Back-Channel Logout 1.0 §2.6), the logout token
//                    verified with npm `jose` against the issuer's JWKS (iss, aud, typ, iat,
//                    events, sub or sid, no nonce);
//  POST /hook/<app>  a webhook verified with npm `standardwebhooks` (the Standard Webhooks
//                    reference library: webhook-id, webhook-timestamp, webhook-signature).
// Each receiver deduplicates by the idempotency key (the token's jti, the webhook-id), as the
// specifications ask, and prints one JSON line per request with `dup` set on a duplicate.
// Paths listed in FAIL (comma-separated, e.g. /bcl/app2) answer 503 until POST /__heal.
// SLOW_MS delays each answer after the request was taken (a window in which the sender may die
// before it hears the answer, and must send again).
// env: PORT, ISSUER, AUDIENCES (comma-separated client ids), SECRETS (JSON app -> whsec_...)
import http from 'node:http';
import * as jose from 'jose';
import { Webhook } from 'standardwebhooks';

const issuer = process.env.ISSUER;
const audiences = (process.env.AUDIENCES || '').split(',').filter(Boolean);
const secrets = JSON.parse(process.env.SECRETS || '{}');
let failing = new Set((process.env.FAIL || '').split(',').filter(Boolean));
const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`), { timeoutDuration: 30000 });
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const seen = new Set();
const slow = Number(process.env.SLOW_MS || 0);

async function logout(body) {
  const token = new URLSearchParams(body).get('logout_token');
  const { payload } = await jose.jwtVerify(token, jwks, {
    issuer, audience: audiences, algorithms: ['ES256', 'RS256'], maxTokenAge: '2 minutes',
    typ: 'logout+jwt',
  });
  const ok = payload.events && typeof payload.events[EVENT] === 'object'
    && payload.nonce === undefined && Boolean(payload.sub || payload.sid) && Boolean(payload.jti);
  return { valid: ok, key: `jti:${payload.jti}`, aud: payload.aud, sub: payload.sub, sid: payload.sid ?? null,
    claims: payload };
}

function hook(app, body, headers) {
  const secret = secrets[app];
  if (!secret) throw new Error(`no secret for ${app}`);
  const event = new Webhook(secret).verify(body, {
    'webhook-id': headers['webhook-id'],
    'webhook-timestamp': headers['webhook-timestamp'],
    'webhook-signature': headers['webhook-signature'],
  });
  return { valid: true, key: `webhook:${headers['webhook-id']}`, type: event.type, data: event.data, event };
}

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', async () => {
    if (req.url === '/__heal') {
      failing = new Set();
      res.writeHead(204).end();
      return;
    }
    const [, kind, app] = req.url.split('/');
    const line = { at: Date.now(), path: req.url, kind, app };
    if (failing.has(req.url)) {
      res.writeHead(503).end('down for maintenance');
      console.log(JSON.stringify({ ...line, refused: true }));
      return;
    }
    try {
      const r = kind === 'bcl' ? await logout(body) : hook(app, body, req.headers);
      Object.assign(line, r, { dup: seen.has(r.key) });
      seen.add(r.key);
      console.log(JSON.stringify(line));
      setTimeout(() => res.writeHead(r.valid ? 200 : 400).end(), slow);
      return;
    } catch (e) {
      Object.assign(line, { valid: false, error: String(e.message) });
      res.writeHead(400).end();
    }
    console.log(JSON.stringify(line));
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(JSON.stringify({ ready: true })));
