# A sample company OpenID provider: npm oidc-provider with a password form, the same server
# the tests run (tests/peers/upstream-op.mjs), installed exactly as locked.
FROM node:20-bookworm-slim
WORKDIR /idp
COPY deploy/samples/idp/package.json deploy/samples/idp/package-lock.json deploy/samples/idp/.npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tests/peers/upstream-op.mjs ./upstream-op.mjs
# the node image's unprivileged user
USER 1000
EXPOSE 9000
CMD ["node", "upstream-op.mjs"]
