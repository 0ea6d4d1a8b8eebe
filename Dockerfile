# The connector as Airbyte runs it: docker run IMAGE spec | check --config F | discover --config F | read ...
FROM node:24-bookworm-slim AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json spec.json ./
COPY scripts/generate-types.ts scripts/bundle.ts scripts/
COPY vendor/airbyte vendor/airbyte
COPY src src
# The bundle, its dependencies in it (scripts/bundle.ts), and the JSON files beside it: no node_modules to ship.
RUN npm run build

FROM node:24-bookworm-slim
# Airbyte runs connectors as the non-root user airbyte (uid 1000) with a writable /airbyte; the base image's
# node user is renamed so as not to clash over the uid.
RUN groupmod --new-name airbyte node \
 && usermod --login airbyte --home /home/airbyte --move-home node \
 && mkdir -p /airbyte/integration_code \
 && chown -R airbyte:airbyte /airbyte
WORKDIR /airbyte/integration_code
COPY --from=build /build/dist dist
COPY package.json spec.json ./
# Runs node with its heap sized from the container's memory limit (docker/entrypoint.sh).
COPY docker/entrypoint.sh /usr/local/bin/source-pipedrive
ENV NODE_ENV=production
ENV AIRBYTE_ENTRYPOINT="/usr/local/bin/source-pipedrive"
ENTRYPOINT ["/usr/local/bin/source-pipedrive"]
LABEL io.airbyte.name=ghcr.io/source-pipedrive-ts/source-pipedrive-ts
LABEL io.airbyte.version=0.1.0
USER airbyte
# Node's compile cache: V8's code for the bundle, made here once (spec runs, every chunk is loaded), so that each
# command starts without parsing what it loads. It holds compiled code only, and serves the user airbyte (Node keeps
# it per uid); run as another user, or where it cannot be read, Node compiles as usual.
ENV NODE_COMPILE_CACHE=/airbyte/integration_code/.compile-cache
RUN node dist/main.js spec > /dev/null \
 && node --input-type=module -e "for (const f of (await import('node:fs')).readdirSync('dist/chunks')) await import('./dist/chunks/' + f)"
