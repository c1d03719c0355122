#!/usr/bin/env bash
# Builds the shared Debian 12 base image for the offline path (no container registry):
# debootstrap a minimal bookworm root file system, then `docker import` it.
# Cached: does nothing when the image already exists (FORCE=1 rebuilds).
set -euo pipefail

image="${1:-infralab/debian-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image exists (cached)"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "debootstrap needs root" >&2; exit 1; }

rootfs="$(mktemp -d /tmp/infralab-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

# curl and wget serve container healthchecks (official images carry one or the other).
debootstrap --variant=minbase --include=ca-certificates,curl,wget bookworm "$rootfs" "$mirror"

# Containers must never start daemons from package scripts.
printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"
chmod 755 "$rootfs/usr/sbin/policy-rc.d"
# Keep apt small and quiet in derived images.
cat > "$rootfs/etc/apt/apt.conf.d/90infralab" <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
CONF
# One install step for every derived image: install, then drop the caches (80-100 MB each).
cat > "$rootfs/usr/local/bin/apt-install" <<'SCRIPT'
#!/bin/sh
set -e
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
SCRIPT
chmod 755 "$rootfs/usr/local/bin/apt-install"
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log

tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  - "$image"
echo "built base image $image"
