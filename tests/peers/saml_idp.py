#!/usr/bin/env python3
"""A real SAML 2.0 IdP for the hub's tests, built on PyPI `pysaml2` (it signs with the xmlsec1
binary). Adapted from ../shared/peers/saml_idp_pysaml2.py: a free port, users from the
environment, service providers registered at run time, and switches for negative tests.
Loopback only. Prints {"ready": true, "base": ..., "pid": ...} once listening.

env:  WORKDIR (key and certificate are generated there), USERS (JSON: login -> {pw, attrs}).
endpoints:
  GET  /metadata                      IdP metadata (entityID = BASE/metadata)
  GET  /sso/redirect?SAMLRequest=...  HTTP-Redirect AuthnRequest -> login form
                                      (a Signature is checked against the SP's metadata cert)
  POST /login     login, password, SAMLRequest, RelayState, SigAlg, Signature -> auto-POST form
  GET  /idp-init?user=alice&sp=ENTITY unsolicited signed response (no password)
  POST /__sp      body: an SP's metadata XML; registers (or replaces) that SP
  POST /__mode    JSON {"sign_alg": "sha1"|"sha256", "audience": "..."|null, "extra_sso": [url]}:
                  how to sign, an audience to put in responses instead of the SP's entity ID,
                  and other IdPs' sign-on URLs to answer requests addressed to (an impostor)
"""
import html, json, os, re, subprocess, sys, hashlib
from urllib.parse import parse_qs, quote_plus
from wsgiref.simple_server import make_server, WSGIRequestHandler
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.server import Server
from saml2.saml import NameID, NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT, NAME_FORMAT_URI
from saml2.authn_context import PASSWORDPROTECTEDTRANSPORT
from saml2.metadata import entity_descriptor
from saml2.xmldsig import SIG_RSA_SHA256, DIGEST_SHA256, SIG_RSA_SHA1, DIGEST_SHA1

HOST = '127.0.0.1'
WORK = os.environ.get('WORKDIR', '/tmp/hub-saml-idp'); os.makedirs(WORK, exist_ok=True)
KEY, CERT = f'{WORK}/idp.key', f'{WORK}/idp.crt'
USERS = json.loads(os.environ.get('USERS') or json.dumps({
    'alice': {'pw': 'alice-pw', 'attrs': {'uid': ['alice'], 'mail': ['alice@example.com'], 'givenName': ['Alice'],
              'sn': ['Example'], 'displayName': ['Alice Example'], 'isMemberOf': ['engineering']}},
}))
MODE = {'sign_alg': 'sha256', 'audience': None, 'extra_sso': []}
SPS = {}  # entity id -> metadata xml

if not os.path.exists(KEY):
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj',
                    '/CN=test-idp', '-keyout', KEY, '-out', CERT], check=True, capture_output=True)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *a):
        pass


srv = make_server(HOST, 0, lambda e, s: APP(e, s), handler_class=QuietHandler)
BASE = f'http://{HOST}:{srv.server_port}'
STATE = {}


def build():
    conf = IdPConfig()
    conf.load({
        'entityid': f'{BASE}/metadata',
        'service': {'idp': {
            'name': 'pysaml2 test IdP',
            'endpoints': {'single_sign_on_service': [(f'{BASE}/sso/redirect', BINDING_HTTP_REDIRECT)]
                          + [(u, BINDING_HTTP_REDIRECT) for u in MODE['extra_sso']]},
            'name_id_format': [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_EMAILADDRESS],
            'policy': {'default': {'lifetime': {'minutes': 5}, 'attribute_restrictions': None,
                                   'name_form': NAME_FORMAT_URI}},
            'want_authn_requests_signed': False,
        }},
        'key_file': KEY, 'cert_file': CERT,
        'xmlsec_binary': '/usr/bin/xmlsec1',
        'metadata': {'inline': list(SPS.values())} if SPS else {},
        'signing_algorithm': SIG_RSA_SHA256, 'digest_algorithm': DIGEST_SHA256,
    })
    STATE['idp'] = Server(config=conf)
    STATE['md'] = str(entity_descriptor(conf))


def name_id_for(user, fmt):
    a = USERS[user]['attrs']
    if fmt == NAMEID_FORMAT_PERSISTENT:
        return NameID(format=fmt, text=hashlib.sha256(f'{user}|{WORK}'.encode()).hexdigest()[:32])
    return NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=a['mail'][0])


def respond(user, relay_state, req_info=None, sp=None):
    idp = STATE['idp']
    if req_info is not None:
        args = idp.response_args(req_info.message, [BINDING_HTTP_POST])
        dest, irt, sp = args['destination'], args['in_response_to'], args['sp_entity_id']
        pol = req_info.message.name_id_policy
        fmt = pol.format if pol is not None and pol.format else NAMEID_FORMAT_PERSISTENT
    else:  # IdP-initiated (unsolicited)
        dest = idp.metadata.assertion_consumer_service(sp, BINDING_HTTP_POST)[0]['location']
        irt, fmt = None, NAMEID_FORMAT_PERSISTENT
    sha1 = MODE['sign_alg'] == 'sha1'
    sign_alg, digest_alg = (SIG_RSA_SHA1, DIGEST_SHA1) if sha1 else (SIG_RSA_SHA256, DIGEST_SHA256)
    resp = idp.create_authn_response(
        USERS[user]['attrs'], irt, dest, MODE['audience'] or sp, name_id=name_id_for(user, fmt),
        authn={'class_ref': PASSWORDPROTECTEDTRANSPORT, 'authn_auth': BASE},
        sign_response=True, sign_assertion=True, sign_alg=sign_alg, digest_alg=digest_alg)
    http = idp.apply_binding(BINDING_HTTP_POST, str(resp), dest, relay_state, response=True)
    return http['data']


def check_redirect_signature(q):
    """Verifies an HTTP-Redirect signature the way the SAML bindings spec says, with the SP's
    certificate from its metadata; returns an error string or None."""
    if 'Signature' not in q:
        return 'AuthnRequest is not signed'
    req = STATE['idp'].parse_authn_request(q['SAMLRequest'], BINDING_HTTP_REDIRECT)
    issuer = req.message.issuer.text
    certs = STATE['idp'].metadata.certs(issuer, 'any', 'signing')
    if not certs:
        return f'no signing certificate for {issuer}'
    signed = '&'.join(f'{k}={quote_plus(q[k])}' for k in ('SAMLRequest', 'RelayState', 'SigAlg') if k in q)
    cert_pem = '-----BEGIN CERTIFICATE-----\n' + certs[0][1] + '\n-----END CERTIFICATE-----\n'
    with open(f'{WORK}/sp.pem', 'w') as f:
        f.write(cert_pem)
    with open(f'{WORK}/signed.txt', 'w') as f:
        f.write(signed)
    import base64
    with open(f'{WORK}/sig.bin', 'wb') as f:
        f.write(base64.b64decode(q['Signature']))
    pub = subprocess.run(['openssl', 'x509', '-pubkey', '-noout', '-in', f'{WORK}/sp.pem'], capture_output=True, text=True).stdout
    with open(f'{WORK}/sp.pub', 'w') as f:
        f.write(pub)
    ok = subprocess.run(['openssl', 'dgst', '-sha256', '-verify', f'{WORK}/sp.pub', '-signature', f'{WORK}/sig.bin',
                         f'{WORK}/signed.txt'], capture_output=True, text=True)
    return None if ok.returncode == 0 else 'bad AuthnRequest signature'


def login_form(q, error=''):
    e = lambda s: html.escape(s or '', quote=True)
    hidden = ''.join(f'<input type="hidden" name="{k}" value="{e(q.get(k))}">'
                     for k in ('SAMLRequest', 'RelayState', 'SigAlg', 'Signature') if k in q)
    return f'''<!doctype html><title>Test SAML IdP</title><h1>Test SAML IdP</h1><p>{e(error)}</p>
<form method="post" action="/login"><label>User <input name="login"></label>
<label>Password <input name="password" type="password"></label>{hidden}<button>Sign in</button></form>'''


def APP(environ, start):
    path, method = environ['PATH_INFO'], environ['REQUEST_METHOD']
    q = {k: v[0] for k, v in parse_qs(environ.get('QUERY_STRING', '')).items()}
    body = b''
    if method == 'POST':
        n = int(environ.get('CONTENT_LENGTH') or 0)
        body = environ['wsgi.input'].read(n)
        if path == '/login':
            q.update({k: v[0] for k, v in parse_qs(body.decode()).items()})

    def out(status, text, ctype='text/html; charset=utf-8'):
        start(status, [('Content-Type', ctype), ('Cache-Control', 'no-store')])
        return [text.encode()]
    try:
        if path == '/metadata':
            return out('200 OK', STATE['md'], 'application/samlmetadata+xml')
        if path == '/__sp' and method == 'POST':
            xml = body.decode()
            entity = re.search(r'entityID="([^"]+)"', xml).group(1)
            SPS[entity] = xml
            build()
            return out('200 OK', 'ok', 'text/plain')
        if path == '/__mode' and method == 'POST':
            MODE.update(json.loads(body.decode()))
            aud = MODE.get('audience')
            if aud and aud not in SPS:  # pysaml2 must know an SP to name it as the audience
                SPS[aud] = f'''<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{html.escape(aud)}">
<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" Location="{html.escape(aud)}/acs" index="0"/>
</md:SPSSODescriptor></md:EntityDescriptor>'''
            build()
            return out('200 OK', json.dumps(MODE), 'application/json')
        if path == '/sso/redirect':
            err = check_redirect_signature(q)
            if err:
                return out('400 Bad Request', f'error: {err}', 'text/plain')
            return out('200 OK', login_form(q))
        if path == '/login' and method == 'POST':
            u = USERS.get(q.get('login', ''))
            if not u or u['pw'] != q.get('password'):
                return out('401 Unauthorized', login_form(q, 'invalid credentials'))
            err = check_redirect_signature(q)
            if err:
                return out('400 Bad Request', f'error: {err}', 'text/plain')
            req_info = STATE['idp'].parse_authn_request(q['SAMLRequest'], BINDING_HTTP_REDIRECT)
            return out('200 OK', respond(q['login'], q.get('RelayState', ''), req_info))
        if path == '/idp-init':
            return out('200 OK', respond(q.get('user', 'alice'), q.get('RelayState', ''), sp=q.get('sp')))
        return out('404 Not Found', 'not found', 'text/plain')
    except Exception as exc:  # keep serving; report the error to the test
        return out('400 Bad Request', f'error: {type(exc).__name__}: {exc}', 'text/plain')


if __name__ == '__main__':
    build()
    print(json.dumps({'ready': True, 'base': BASE, 'pid': os.getpid()}), flush=True)
    srv.serve_forever()
