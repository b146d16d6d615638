#!/usr/bin/env bash
# Build iotcs-hw_VERSION_all.deb: the wheel plus deploy/, installed by install.sh from postinst.
#   deploy/deb/build-deb.sh [--wheel FILE] [--out DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEPLOY=$(dirname "$HERE")
REPO=$(dirname "$DEPLOY")
readonly HERE DEPLOY REPO

die() {
    printf 'build-deb.sh: error: %s\n' "$*" >&2
    exit 1
}

WHEEL="" OUT=$REPO/dist
while [ "$#" -gt 0 ]; do
    case $1 in
    --wheel) [ "$#" -ge 2 ] || die "--wheel needs a file"; WHEEL=$2; shift 2 ;;
    --out) [ "$#" -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,3p' "$0"; exit 0 ;;
    *) die "unknown option '$1'" ;;
    esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg=$work/pkg
mkdir -p "$pkg/opt/iotcs-hw/share/wheel" "$pkg/opt/iotcs-hw/share/deploy" "$pkg/DEBIAN"
if [ -z "$WHEEL" ]; then
    python3 -m pip wheel --quiet --no-deps -w "$work" "$REPO" >&2
    WHEEL=$(ls "$work"/iotcs_hw-*.whl)
fi
case $(basename "$WHEEL") in iotcs_hw-*-py3-none-any.whl) ;; *) die "'$WHEEL' is not an iotcs_hw-*-py3-none-any.whl" ;; esac
version=$(basename "$WHEEL" | cut -d- -f2)
install -m 0644 "$WHEEL" "$pkg/opt/iotcs-hw/share/wheel/"
for f in install.sh firstboot.sh; do install -m 0755 "$DEPLOY/$f" "$pkg/opt/iotcs-hw/share/deploy/"; done
install -m 0644 "$DEPLOY/README.md" "$pkg/opt/iotcs-hw/share/deploy/"
for d in systemd sysusers.d tmpfiles.d; do
    mkdir -p "$pkg/opt/iotcs-hw/share/deploy/$d"
    install -m 0644 "$DEPLOY/$d"/* "$pkg/opt/iotcs-hw/share/deploy/$d/"
done
sed "s/@VERSION@/$version/" "$HERE/DEBIAN/control.in" >"$pkg/DEBIAN/control"
for s in postinst prerm postrm; do install -m 0755 "$HERE/DEBIAN/$s" "$pkg/DEBIAN/"; done
mkdir -p "$OUT"
dpkg-deb --root-owner-group --build "$pkg" "$OUT/iotcs-hw_${version}_all.deb" >/dev/null
echo "$OUT/iotcs-hw_${version}_all.deb"
