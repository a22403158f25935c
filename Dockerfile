# clockwatch container image: a static binary on an empty base.
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
#   docker build -t clockwatch:dev --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# The runtime image holds one file, /clockwatch: no shell, no package manager,
# no libc. It runs as uid/gid 65534 (nobody); in the Helm chart's socket mode
# the pod's securityContext runs it as chronyd's uid/gid instead.
# Where no image can be pulled, deploy/image/build.sh builds the same runtime
# image with buildah from a binary built beforehand.

# Pin this (ideally by digest) for reproducible builds.
ARG RUST_IMAGE=rust:1-alpine

FROM ${RUST_IMAGE} AS build
# On Alpine the Rust target is x86_64/aarch64-unknown-linux-musl, which links
# statically by default.
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked --bin clockwatch \
 && cp target/release/clockwatch /clockwatch \
 && if readelf -l /clockwatch 2>/dev/null | grep -q 'Requesting program interpreter'; then \
      echo 'clockwatch is not statically linked' >&2; exit 1; \
    fi

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="clockwatch" \
      org.opencontainers.image.description="Prometheus exporter for the clock error of Kubernetes nodes (chrony cmdmon + adjtimex)" \
      org.opencontainers.image.licenses="Apache-2.0 OR MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://example.invalid/clockwatch"
COPY --from=build --chmod=0555 /clockwatch /clockwatch
USER 65534:65534
EXPOSE 9707
ENTRYPOINT ["/clockwatch"]
