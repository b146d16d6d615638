#!/usr/bin/env bash
# Fill user-data, network-config and meta-data for a zero-touch first boot, ready to copy onto
# the boot partition of a freshly written Raspberry Pi OS Trixie card. See deploy/README.md.
set -euo pipefail

readonly PROG=render.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEPLOY=$(dirname "$HERE")
REPO=$(dirname "$DEPLOY")
readonly HERE DEPLOY REPO

usage() {
    cat <<EOF
Usage: deploy/cloud-init/render.sh --out DIR --model FILE --store FILE --password-file FILE
                                   --ssh-key KEY_OR_FILE [OPTIONS]

Writes DIR/user-data, DIR/network-config and DIR/meta-data (DIR may be the mounted bootfs).
With --bookworm (Raspberry Pi OS Bookworm has no cloud-init), writes DIR/iotcs-hw-firstboot/
instead: the same files unpacked, installed on first boot by iotcs-hw-firstboot.service.

Required:
  --out DIR             where to write the three files
  --model FILE          the model file to run
  --store FILE          the device's trusted-assets store (provisioning file)
  --password-file FILE  the store password
  --ssh-key KEY|FILE    public key (or a .pub file) for the administrator account
                        (not with --bookworm: Raspberry Pi Imager sets up users there)
Options:
  --wifi-ssid NAME      Wi-Fi network (without it the wifis block is removed: Ethernet only)
  --wifi-password PASS  Wi-Fi passphrase
  --country CC          Wi-Fi regulatory domain, two letters (default GB)
  --hostname NAME       default iotcs-hw
  --user NAME           administrator account (default iotcs-admin)
  --models DIR          device-model JSON files for the model file (default: its directory)
  --wheel FILE          iotcs-hw wheel (default: built from this checkout with pip wheel)
  --bookworm            write the iotcs-hw-firstboot/ folder for Bookworm instead
  -h, --help            this text
EOF
}

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

OUT="" MODEL="" STORE="" PASSWORD_FILE="" SSH_KEY="" WIFI_SSID="" WIFI_PASSWORD=""
COUNTRY=GB HOSTNAME_=iotcs-hw ADMIN=iotcs-admin WHEEL="" BOOKWORM=0 MODELS_DIR=""
while [ "$#" -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --bookworm) BOOKWORM=1; shift; continue ;;
    --*)
        [ "$#" -ge 2 ] || die "$1 needs a value (see --help)"
        case $1 in
        --out) OUT=$2 ;;
        --model) MODEL=$2 ;;
        --store) STORE=$2 ;;
        --password-file) PASSWORD_FILE=$2 ;;
        --ssh-key) SSH_KEY=$2 ;;
        --wifi-ssid) WIFI_SSID=$2 ;;
        --wifi-password) WIFI_PASSWORD=$2 ;;
        --country) COUNTRY=$2 ;;
        --hostname) HOSTNAME_=$2 ;;
        --user) ADMIN=$2 ;;
        --wheel) WHEEL=$2 ;;
        --models) MODELS_DIR=$2 ;;
        *) die "unknown option '$1' (see --help)" ;;
        esac
        shift 2
        ;;
    *) die "unexpected argument '$1' (see --help)" ;;
    esac
done

[ -n "$OUT" ] || die "--out is required"
for f in MODEL STORE PASSWORD_FILE; do
    [ -n "${!f}" ] || die "--$(tr '[:upper:]_' '[:lower:]-' <<<"$f") is required"
    [ -r "${!f}" ] || die "cannot read '${!f}'"
done
if [ "$BOOKWORM" = 0 ]; then
    [ -n "$SSH_KEY" ] || die "--ssh-key is required (the Pi gets no password login)"
    [ ! -f "$SSH_KEY" ] || SSH_KEY=$(head -n 1 "$SSH_KEY")
    case $SSH_KEY in ssh-* | ecdsa-*) ;; *) die "--ssh-key: '$SSH_KEY' is not an OpenSSH public key" ;; esac
fi
[[ $COUNTRY =~ ^[A-Z]{2}$ ]] || die "--country '$COUNTRY': two capital letters, e.g. GB, DE, US"
[[ $HOSTNAME_ =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]] || die "--hostname '$HOSTNAME_': lower-case letters, digits and '-'"
[[ $ADMIN =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--user '$ADMIN': not a valid user name"
if [ -n "$WIFI_SSID" ] && [ "${#WIFI_PASSWORD}" -lt 8 ]; then
    die "--wifi-password: WPA passphrases have 8 to 63 characters"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The bundle: install.sh and what it installs, plus the wheel.
mkdir -p "$work/bundle/deploy"
cp -r "$DEPLOY/install.sh" "$DEPLOY/firstboot.sh" "$DEPLOY/README.md" "$DEPLOY/systemd" \
    "$DEPLOY/sysusers.d" "$DEPLOY/tmpfiles.d" "$work/bundle/deploy/"
if [ -z "$WHEEL" ]; then
    echo "$PROG: building the iotcs-hw wheel from $REPO"
    python3 -m pip wheel --quiet --no-deps -w "$work/bundle" "$REPO" >&2
else
    [ -r "$WHEEL" ] || die "cannot read '$WHEEL'"
    case $(basename "$WHEEL") in iotcs_hw-*.whl) ;; *) die "--wheel '$WHEEL' is not an iotcs_hw-*.whl" ;; esac
    cp "$WHEEL" "$work/bundle/"
fi
cp "$HERE/iotcs-hw-firstboot.service" "$work/bundle/deploy/"
# The device models the model file binds to: the runtime reads them beside the model file.
MODELS_DIR=${MODELS_DIR:-$(dirname "$MODEL")}
mkdir -p "$work/bundle/device-models"
for json in "$MODELS_DIR"/*.json; do
    [ -f "$json" ] && cp "$json" "$work/bundle/device-models/"
done
[ -n "$(ls "$work/bundle/device-models")" ] ||
    echo "$PROG: warning: no device-model *.json in $MODELS_DIR" >&2

if [ "$BOOKWORM" = 1 ]; then
    dest=$OUT/iotcs-hw-firstboot
    mkdir -p "$dest"
    rm -rf "$dest/bundle"
    cp -r "$work/bundle" "$dest/bundle"
    cp "$MODEL" "$dest/model.yaml"
    cp "$STORE" "$dest/device.store"
    cp "$PASSWORD_FILE" "$dest/store-password"
    echo "$PROG: wrote $dest (enable iotcs-hw-firstboot.service from firstrun.sh: deploy/README.md)"
    exit 0
fi
tar -czf "$work/bundle.tar.gz" -C "$work/bundle" .
base64 -w 0 "$work/bundle.tar.gz" >"$work/bundle.b64"
base64 -w 0 "$STORE" >"$work/store.b64"
base64 -w 0 "$PASSWORD_FILE" >"$work/password.b64"

# YAML double-quoted string content: escape backslashes and quotes.
yq() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' <<<"$1"; }

# Replace __NAME__ tokens with values, and lines that are only __NAME__ (block placeholders)
# with a file's lines at the placeholder's indentation.
fill() {
    awk '
        function slurp(path,   line, text, n) {
            text = ""; n = 0
            while ((getline line < path) > 0) { text = text (n++ ? "\n" : "") line }
            close(path)
            return text
        }
        match($0, /^ *__MODEL_FILE__$/) {
            indent = $0; sub(/__.*/, "", indent)
            key = $0; gsub(/[ _]/, "", key)
            text = slurp(ENVIRON["FILL_" key])
            n = split(text, lines, "\n")
            for (i = 1; i <= n; i++) print (lines[i] == "" ? "" : indent lines[i])
            next
        }
        # Literal replacement (no regex or & semantics: values may hold any character).
        function put(s, token, value,   i, out) {
            out = ""
            while ((i = index(s, token)) > 0) {
                out = out substr(s, 1, i - 1) value
                s = substr(s, i + length(token))
            }
            return out s
        }
        {
            line = $0
            line = put(line, "__HOSTNAME__", ENVIRON["FILL_HOSTNAME"])
            line = put(line, "__ADMIN_USER__", ENVIRON["FILL_ADMIN"])
            line = put(line, "__SSH_PUBLIC_KEY__", ENVIRON["FILL_SSHKEY"])
            line = put(line, "__WIFI_COUNTRY__", ENVIRON["FILL_COUNTRY"])
            line = put(line, "__WIFI_SSID__", ENVIRON["FILL_SSID"])
            line = put(line, "__WIFI_PASSWORD__", ENVIRON["FILL_WIFIPW"])
            line = put(line, "__INSTANCE_ID__", ENVIRON["FILL_INSTANCE"])
            if (index(line, "__BUNDLE_B64__")) line = put(line, "__BUNDLE_B64__", slurp(ENVIRON["FILL_BUNDLE"]))
            if (index(line, "__STORE_B64__")) line = put(line, "__STORE_B64__", slurp(ENVIRON["FILL_STORE"]))
            if (index(line, "__PASSWORD_B64__")) line = put(line, "__PASSWORD_B64__", slurp(ENVIRON["FILL_PASSWORD"]))
            print line
        }
    ' "$1"
}

export FILL_MODELFILE=$MODEL FILL_STORE=$work/store.b64 FILL_PASSWORD=$work/password.b64
export FILL_BUNDLE=$work/bundle.b64 FILL_HOSTNAME=$HOSTNAME_ FILL_ADMIN=$ADMIN
FILL_SSHKEY=$SSH_KEY
FILL_COUNTRY=$COUNTRY
FILL_SSID=$(yq "$WIFI_SSID")
FILL_WIFIPW=$(yq "$WIFI_PASSWORD")
FILL_INSTANCE=$(date -u +%Y%m%d%H%M%S)
export FILL_SSHKEY FILL_COUNTRY FILL_SSID FILL_WIFIPW FILL_INSTANCE

mkdir -p "$OUT"
fill "$HERE/user-data" >"$work/user-data"
fill "$HERE/meta-data" >"$work/meta-data"
if [ -n "$WIFI_SSID" ]; then
    fill "$HERE/network-config" >"$work/network-config"
else
    # Ethernet only: drop the wifis block.
    fill "$HERE/network-config" | awk '/^  wifis:/ { skip = 1; next } skip && /^    / { next } { skip = 0; print }' >"$work/network-config"
fi
for f in user-data network-config meta-data; do
    cp "$work/$f" "$OUT/$f"
done
chmod 600 "$OUT/user-data" 2>/dev/null || true
echo "$PROG: wrote $OUT/user-data, $OUT/network-config, $OUT/meta-data"
