# A local stand-in for the official `redis:7` image, built from Debian's package (no image can be
# pulled here). Like the official image, `redis-server` runs without protected mode (the
# container network is the boundary) and listens on every interface.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data \
 && printf '#!/bin/sh\nif [ "$1" = redis-server ]; then shift; set -- redis-server --bind 0.0.0.0 --protected-mode no "$@"; fi\nexec "$@"\n' \
    > /usr/local/bin/entrypoint.sh && chmod +x /usr/local/bin/entrypoint.sh
WORKDIR /data
USER redis
EXPOSE 6379
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["redis-server"]
