// A small downstream app that receives OIDC back-channel logout requests and validates each
// logout token as the spec says (Back-Channel Logout 1.0 §2.6) with npm `jose`: signature from
// the issuer's JWKS, iss, aud, iat, the events claim, a sub or sid, and no nonce.
// Prints one JSON line per request. env: PORT, ISSUER, AUDIENCES (comma-separated client ids).
import http from 'node:http';
import * as jose from 'jose';

const issuer = process.env.ISSUER;
const audiences = (process.env.AUDIENCES || '').split(',');
// Generous: the test machines are shared and busy.
const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`), { timeoutDuration: 30000 });
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', async () => {
    const token = new URLSearchParams(body).get('logout_token');
    const line = { path: req.url, contentType: req.headers['content-type'] };
    try {
      const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
        issuer, audience: audiences, algorithms: ['ES256', 'RS256'], maxTokenAge: '2 minutes',
        typ: 'logout+jwt',
      });
      const ok = payload.events && typeof payload.events[EVENT] === 'object'
        && payload.nonce === undefined && (payload.sub || payload.sid);
      Object.assign(line, { valid: Boolean(ok), aud: payload.aud, sub: payload.sub, sid: payload.sid, alg: protectedHeader.alg });
      res.writeHead(ok ? 200 : 400).end();
    } catch (e) {
      Object.assign(line, { valid: false, error: String(e.message) });
      res.writeHead(400).end();
    }
    console.log(JSON.stringify(line));
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(JSON.stringify({ ready: true })));
