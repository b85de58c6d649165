# sidegate: one process per pod, on localhost. Build: docker build -t sidegate:0.1.0 .
# The Node major here is the one .ci/run tests the suite on (node@24), besides the
# development Node.
FROM node:24-slim AS build
WORKDIR /app
# Dependencies first: this layer is reused until package.json or the lock file changes.
# (--ignore-scripts: `prepare` builds from src/, which is not copied yet.)
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="sidegate" \
      org.opencontainers.image.description="An AI gateway that runs as a sidecar: one YAML file, compiled once, hot-reloaded." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.url="https://sidegate.dev" \
      org.opencontainers.image.base.name="docker.io/library/node:24-slim"
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json gateway.example.yaml ./
COPY schemas ./schemas
# Numeric, so Kubernetes' runAsNonRoot can verify it (the image's `node` user).
USER 1000:1000
# 8080: the app's baseURL (http://127.0.0.1:8080/v1); 9090: admin (loopback by default);
# 9091: server.health (/healthz, /readyz); 9092: server.metrics (/metrics).
EXPOSE 8080 9090 9091 9092
# The young generation and the old one's growth kept small: the sidecar's memory stays low at no cost in speed (see src/cli.ts).
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=50", "dist/cli.js"]
CMD ["start", "-c", "/etc/sidegate/gateway.yaml"]
