# Multi-stage build: a static gjallar binary on a distroless base that runs
# as non-root (UID 65532) with nothing else in the image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.buildVersion=${VERSION}" \
      -o /out/gjallar ./cmd/gjallar

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gjallar /usr/local/bin/gjallar
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/gjallar"]
