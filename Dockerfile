# sidegate: one process per pod, on localhost. Build: docker build -t sidegate .
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# `npm ci` runs the `prepare` script, which compiles src/ into dist/.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json gateway.example.yaml ./
COPY schemas ./schemas
USER node
# 8080: the app's baseURL (http://127.0.0.1:8080/v1); 9090: admin (/healthz /readyz /metrics …).
EXPOSE 8080 9090
# A small young generation keeps the sidecar's memory low at no cost in speed (see src/cli.ts).
ENTRYPOINT ["node", "--max-semi-space-size=8", "dist/cli.js"]
CMD ["start", "-c", "/etc/sidegate/gateway.yaml"]
