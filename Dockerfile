# syntax=docker/dockerfile:1
# The hourglass image: one image for every service; the argument picks which one runs.
#   docker run IMAGE services/gateway/main.ts     (Cloud Run sets the args per service)
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step, and since
# stripping keeps every line and column, stack traces point at the sources without source maps.

ARG NODE_IMAGE=node:24-slim

# --- dependencies: production packages only, installed from the lock file ----------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
 && npm cache clean --force

# --- runtime ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and not writable by the service: the app cannot change its own code or schemas.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY services ./services
COPY schemas ./schemas
USER node
# Cloud Run sets PORT (8080 by default); the gateway serves events there, worker and checker health.
EXPOSE 8080
ENTRYPOINT ["node"]
CMD ["services/gateway/main.ts"]
