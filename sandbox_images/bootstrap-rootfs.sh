#!/usr/bin/env bash
# Build the sandbox's base root filesystem without any image registry: Debian minbase with
# Python 3 and venv, stripped of apt caches, package lists, docs and translations, packed as a
# tarball for `docker import`.
#
# usage: bootstrap-rootfs.sh SUITE MIRROR OUTPUT.tar [ARCH]
# Needs root and debootstrap (`bash scripts/setup` installs it). Prints debootstrap's progress.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 SUITE MIRROR OUTPUT.tar [ARCH]" >&2
    exit 2
fi
suite=$1
mirror=$2
out=$3
arch=${4:-$(dpkg --print-architecture)}
# What Python needs to make a venv; everything else comes from wheels.
packages=python3,python3-venv

if [ "$(id -u)" != 0 ]; then
    echo "bootstrapping a Debian rootfs needs root (debootstrap); run \`bash scripts/setup\` as root" >&2
    exit 3
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    echo "debootstrap is not installed; run \`bash scripts/setup\` (it installs it)" >&2
    exit 3
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/program-engine-rootfs.XXXXXX")
cleanup() {
    # debootstrap mounts /proc and /sys inside the target; never recurse into them.
    awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m" || true; done
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
root=$work/rootfs

debootstrap --variant=minbase --arch="$arch" --include="$packages" "$suite" "$root" "$mirror"

# Apt caches and lists are about 95 MB and useless in a sandbox without network.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/* "$root"/root/.cache \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/etc/machine-id
mkdir -p "$root"/var/lib/apt/lists/partial "$root"/var/cache/apt/archives/partial
# Keep them out should anyone ever install a package on top.
cat >"$root"/etc/dpkg/dpkg.cfg.d/program-engine-slim <<'CFG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
cat >"$root"/etc/apt/apt.conf.d/program-engine-clean <<'CFG'
APT::Keep-Downloaded-Packages "false";
Acquire::Languages "none";
CFG
: >"$root"/etc/resolv.conf

tar --numeric-owner -C "$root" -cf "$out.partial" \
    --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' --exclude='./run/*' .
mv -f "$out.partial" "$out"
echo "I: rootfs written to $out ($(du -h "$out" | cut -f1))"
