# syntax=docker/dockerfile:1
# The operator image: `run` (the controller, the default command) and the `snapshot` and
# `sync` commands its copy Jobs run. Build: docker build -t standby-operator:dev .

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# Build: compile src/ to dist/ (relative .ts imports rewritten to .js), then drop dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund

# Runtime: Node 24 only (no shell, no npm), as uid 65532.
FROM ${RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 65532:65532
EXPOSE 8080
# Distroless keeps node at /nodejs/bin/node (not on PATH).
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/main.js"]
CMD ["run"]
