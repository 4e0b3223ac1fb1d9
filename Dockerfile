# syntax=docker/dockerfile:1
# The operator image: `run` (the controller, the default command), the `snapshot` and
# `sync` commands its copy Jobs run, and `mover` with restic for the volume mover's Jobs.
# Build: docker build -t standby-operator:dev .

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

# restic from Debian's package (bookworm, like the runtime): it links only glibc, which the
# distroless image has.
FROM ${NODE_IMAGE} AS restic
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends restic \
 && rm -rf /var/lib/apt/lists/*

# Runtime: Node 24 and restic only (no shell, no npm), as uid 65532.
FROM ${RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=restic /usr/bin/restic /usr/bin/restic
USER 65532:65532
EXPOSE 8080
# Distroless keeps node at /nodejs/bin/node (not on PATH).
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/main.js"]
CMD ["run"]
