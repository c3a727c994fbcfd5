# syntax=docker/dockerfile:1

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No dependency needs its install script to run here, and some would reach the network
# (mongodb-memory-server downloads mongod, @scarf/scarf reports usage).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# Owned by root and run as another user: the process cannot rewrite its own code.
COPY --from=build /app/dist ./dist
# The admin console's static files (src/http/console-router.ts finds them beside dist/).
COPY public ./public
# The image's `node` user, given by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 3000
# Slim images have no curl; Node 20's built-in fetch does the same.
HEALTHCHECK --interval=15s --timeout=5s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/api/payments/health/live',{signal:AbortSignal.timeout(3000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# `npm start` runs the same file; node as PID 1 gets SIGTERM itself and drains
# (src/main.ts), and npm would want a writable cache under a read-only root.
CMD ["node", "dist/main.js"]
