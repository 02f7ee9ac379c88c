# syntax=docker/dockerfile:1
# The operator's image: built with npm ci and tsc, run on distroless Node.js 24 (the current LTS) as a
# non-root user with production dependencies only.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM gcr.io/distroless/nodejs24-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="mapreduce-operator" \
      org.opencontainers.image.description="Runs MapReduce jobs declared as MapReduceJob resources; each job is one OpenTelemetry trace" \
      org.opencontainers.image.source="https://github.com/mapreduce-operator/mapreduce-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 65532:65532
# V8's heap sizing: see nodeOptions in charts/mapreduce-operator/values.yaml (the chart sets the same).
ENV NODE_OPTIONS="--max-semi-space-size=16 --max-old-space-size=256"
EXPOSE 8081 9464
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]
