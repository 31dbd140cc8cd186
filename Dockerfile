# mock-idp container image.
#   docker build -t mock-idp .
#   docker run --rm -p 8080:8080 -p 8081:8081 mock-idp                  # the demo
#   docker run --rm -p 8080:8080 -v $PWD/idp.yaml:/config/idp.yaml \
#     -e MOCK_IDP_CONFIG=/config/idp.yaml -v mock-idp-data:/data mock-idp
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary can be fetched, against
# the image's own Node headers (/usr/local/include/node) or, for offline builds,
# headers staged in the build context as .node-headers/ (scripts/container-check.sh).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 make g++ >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY package.json .node-header[s] /tmp/node-headers/
COPY package.json package-lock.json ./
RUN if [ -f /usr/local/include/node/node.h ]; then export npm_config_nodedir=/usr/local; \
    elif [ -f /tmp/node-headers/include/node/node.h ]; then export npm_config_nodedir=/tmp/node-headers; fi \
 && npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle.ts ./scripts/
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY views ./views
COPY public ./public
COPY config ./config
# The SAML metadata schemas SP metadata is validated against (read at run time).
COPY schemas ./schemas
# Development keys (labelled CHANGE-ME). Mount your own over /app/keys, or set
# KEYS_DIR=/data/keys to have fresh keys generated into the data volume.
COPY --chown=node:node keys ./keys
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
