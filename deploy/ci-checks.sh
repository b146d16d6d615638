#!/usr/bin/env bash
# CI checks of deploy/: everything about putting iotcs-hw on a Pi that can be checked without one.
#
#   deploy/ci-checks.sh                 install the Debian tools, run every check on the real
#                                       files, then pytest tests/deploy (the broken-file cases)
#   deploy/ci-checks.sh CHECK FILE...   run one check on the given files (the tests use this):
#     lint SCRIPT...                    shellcheck, warnings and all
#     verify UNIT...                    systemd-analyze verify, ExecStart pointed at a stub;
#                                       any output at all is a failure
#     security UNIT...                  systemd-analyze security --offline=yes --threshold=20
#                                       (exposure must be <= 2.0)
#     user-data FILE...                 cloud-init schema
#     network-config FILE...            must parse as YAML with a network.version 2 mapping
#     image-layer LAYER...              rpi-image-gen layer: YAML parses, hooks pass shellcheck -s sh
#     deb [BUILD_DEB]                   build the .deb (placeholder wheel) and check its contents
#     scratch-install [INSTALL_SH]      install.sh --root into a scratch root; asserts what it
#                                       places (INSTALL_SH: another copy, default deploy/install.sh)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO
readonly DEPLOY=$REPO/deploy
readonly THRESHOLD=20

step() { printf '\n--> %s\n' "$*"; }
fail() {
    printf 'ci-checks: FAIL: %s\n' "$*" >&2
    exit 1
}

python_with_yaml() {
    local py
    for py in "$REPO/.venv/bin/python" /usr/bin/python3 python3; do
        if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import yaml' 2>/dev/null; then
            printf '%s\n' "$py"
            return 0
        fi
    done
    fail "no Python with PyYAML (apt-get install python3-yaml)"
}

install_tools() {
    local missing=()
    command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
    command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
    command -v cloud-init >/dev/null 2>&1 || missing+=(cloud-init)
    /usr/bin/python3 -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "tools present: shellcheck, systemd-analyze, cloud-init, python3-yaml"
        return 0
    fi
    [ "$(id -u)" = 0 ] || fail "missing ${missing[*]} and not root to apt-get install them"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

check_shellcheck() {
    shellcheck --shell=bash --severity=style "$@"
    echo "shellcheck: $# scripts clean"
}

# systemd-analyze verify needs an existing ExecStart binary: point it at a stub. Units are
# copied (templates also as an instance) into a scratch directory and verified by path.
check_verify() {
    local tmp unit out name
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"; trap - RETURN' RETURN
    printf '#!/bin/sh\nexit 0\n' >"$tmp/iotcs-hw-stub"
    chmod +x "$tmp/iotcs-hw-stub"
    for unit in "$@"; do
        name=$(basename "$unit")
        sed -E "s#^ExecStart=[^ ]+#ExecStart=$tmp/iotcs-hw-stub#" "$unit" >"$tmp/$name"
        case $name in *@.service) cp "$tmp/$name" "$tmp/${name%@.service}@ci.service" ;; esac
    done
    for unit in "$tmp"/*.service; do
        out=$(systemd-analyze verify --man=no "$unit" 2>&1) || {
            printf '%s\n' "$out" >&2
            fail "systemd-analyze verify failed on $(basename "$unit")"
        }
        if [ -n "$out" ]; then
            printf '%s\n' "$out" >&2
            fail "systemd-analyze verify printed warnings for $(basename "$unit")"
        fi
        echo "verify: $(basename "$unit") clean"
    done
}

check_security() {
    local tmp unit name target
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"; trap - RETURN' RETURN
    for unit in "$@"; do
        name=$(basename "$unit")
        target=$tmp/$name
        case $name in *@.service) target=$tmp/${name%@.service}@ci.service ;; esac
        cp "$unit" "$target"
        if ! systemd-analyze security --offline=yes --threshold="$THRESHOLD" --no-pager "$target" >"$tmp/report" 2>&1; then
            grep -E '✗|exposure' "$tmp/report" >&2 || cat "$tmp/report" >&2
            fail "$name: exposure above $((THRESHOLD / 10)).$((THRESHOLD % 10))"
        fi
        echo "security: $(grep -o 'exposure level for .*' "$tmp/report")"
    done
}

check_user_data() {
    local f
    for f in "$@"; do
        cloud-init schema --config-file "$f" || fail "cloud-init schema rejects $f"
    done
}

check_network_config() {
    "$(python_with_yaml)" - "$@" <<'EOF' || fail "network-config check failed"
import sys
import yaml

bad = 0
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        print(f"{path}: not YAML: {exc}", file=sys.stderr)
        bad += 1
        continue
    net = doc.get("network", doc) if isinstance(doc, dict) else None
    if not isinstance(net, dict) or net.get("version") != 2:
        print(f"{path}: expected a netplan version 2 mapping (network: {{version: 2, ...}})",
              file=sys.stderr)
        bad += 1
        continue
    print(f"network-config: {path} parses (version 2: {', '.join(k for k in net if k != 'version')})")
sys.exit(1 if bad else 0)
EOF
}

# The rpi-image-gen layer cannot be built here (it needs an arm64 host): check what can be checked.
check_image_layer() {
    local tmp layer
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"; trap - RETURN' RETURN
    for layer in "$@"; do
        rm -f "$tmp"/hook-*.sh
        "$(python_with_yaml)" - "$layer" "$tmp" <<'EOF' || fail "$layer is not a valid layer"
import sys
import yaml

path, out = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    text = f.read()
if "# METABEGIN" not in text or "# METAEND" not in text:
    sys.exit(f"{path}: no METABEGIN/METAEND header")
try:
    doc = yaml.safe_load(text)
except yaml.YAMLError as exc:
    sys.exit(f"{path}: not YAML: {exc}")
hooks = [h for kind, hs in (doc.get("mmdebstrap") or {}).items() if kind.endswith("-hooks") for h in hs]
if not hooks:
    sys.exit(f"{path}: no mmdebstrap hooks")
for i, hook in enumerate(hooks):
    with open(f"{out}/hook-{i}.sh", "w", encoding="utf-8") as f:
        f.write("#!/bin/sh\n" + hook + "\n")
EOF
        # IGconf_* variables are set by rpi-image-gen from the layer's X-Env-Var lines.
        shellcheck --shell=sh --exclude=SC2154 "$tmp"/hook-*.sh || fail "$layer: hook fails shellcheck"
        echo "image layer: $layer parses, hooks clean"
    done
}

# The .deb's layout and control data (installing it for real is tests/deploy/test_rootfs_slow.py).
check_deb() {
    local build=${1:-$DEPLOY/deb/build-deb.sh} tmp deb
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"; trap - RETURN' RETURN
    printf 'placeholder\n' >"$tmp/iotcs_hw-0.1.0-py3-none-any.whl"
    deb=$(bash "$build" --wheel "$tmp/iotcs_hw-0.1.0-py3-none-any.whl" --out "$tmp/out") || fail "build-deb.sh failed"
    dpkg-deb --field "$deb" Package Version Architecture Depends >"$tmp/fields"
    grep -qx 'Package: iotcs-hw' "$tmp/fields" || fail "deb: Package is not iotcs-hw"
    grep -qx 'Version: 0.1.0' "$tmp/fields" || fail "deb: Version is not the wheel's"
    grep -qx 'Architecture: all' "$tmp/fields" || fail "deb: not Architecture: all"
    grep -q 'python3-venv' "$tmp/fields" || fail "deb: Depends lacks python3-venv"
    dpkg-deb --contents "$deb" | awk '{print $1, $2, $6}' >"$tmp/contents"
    local entry
    for entry in \
        '-rwxr-xr-x root/root ./opt/iotcs-hw/share/deploy/install.sh' \
        '-rw-r--r-- root/root ./opt/iotcs-hw/share/deploy/systemd/iotcs-hw.service' \
        '-rw-r--r-- root/root ./opt/iotcs-hw/share/deploy/systemd/iotcs-hw@.service' \
        '-rw-r--r-- root/root ./opt/iotcs-hw/share/deploy/sysusers.d/iotcs-hw.conf' \
        '-rw-r--r-- root/root ./opt/iotcs-hw/share/deploy/tmpfiles.d/iotcs-hw.conf' \
        '-rw-r--r-- root/root ./opt/iotcs-hw/share/wheel/iotcs_hw-0.1.0-py3-none-any.whl'; do
        grep -qxF -- "$entry" "$tmp/contents" || fail "deb: missing '$entry'"
    done
    mkdir "$tmp/control"
    dpkg-deb --control "$deb" "$tmp/control"
    for f in postinst prerm postrm; do
        [ -x "$tmp/control/$f" ] || fail "deb: no executable $f"
    done
    grep -q 'install.sh --skip-apt' "$tmp/control/postinst" || fail "deb: postinst does not run install.sh --skip-apt"
    echo "deb: $(basename "$deb") has the wheel, deploy/ and maintainer scripts"
}

# ---------------------------------------------------------------------------------------------
# install.sh into a scratch root: the files it places, their modes and owners, idempotence.

expect_file() {
    local root=$1 path=$2 mode=$3 owner=$4
    [ -f "$root$path" ] || fail "scratch install: $path missing"
    local got
    got=$(stat -c '%a %u:%g' "$root$path")
    [ "$got" = "$mode $owner" ] || fail "scratch install: $path is '$got', expected '$mode $owner'"
    echo "placed: $path ($got)"
}

uid_in() { awk -F: -v n="$2" '$1 == n { print $3 }' "$1/etc/$3"; }

check_scratch_install() {
    local install_sh=${1:-$DEPLOY/install.sh}
    local tmp root model bin
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"; trap - RETURN' RETURN
    root=$tmp/root
    mkdir -p "$root/etc" "$root/boot/firmware"
    printf 'PRETTY_NAME="Raspberry Pi OS (trixie)"\nID=debian\nVERSION_CODENAME=trixie\n' >"$root/etc/os-release"
    printf '# Raspberry Pi config.txt\ndtparam=audio=on\n' >"$root/boot/firmware/config.txt"
    printf 'secret\n' >"$tmp/password"
    printf 'provisioning store\n' >"$tmp/device.store"

    local args=(--root "$root" --arch arm64 --interfaces "i2c,spi,onewire" --password-file "$tmp/password")
    bin=${IOTCS_HW_BIN:-$REPO/.venv/bin/iotcs-hw}
    model=$REPO/device_models/greenhouse.yaml
    local with_model=0
    if [ -f "$model" ] && [ -x "$bin" ]; then
        # The example model file, with its store moved to where the service may write it, beside
        # a copy of its device models (the runtime reads them from the model file's directory).
        cp -r "$(dirname "$model")" "$tmp/models"
        "$(python_with_yaml)" - "$model" "$tmp/models/model.yaml" <<'EOF'
import sys
import yaml

with open(sys.argv[1], encoding="utf-8") as f:
    doc = yaml.safe_load(f)
store = doc.get("store")
if isinstance(store, dict):
    store["path"] = "/var/lib/iotcs-hw/device.store"
else:
    doc["store"] = {"path": "/var/lib/iotcs-hw/device.store"}
with open(sys.argv[2], "w", encoding="utf-8") as f:
    yaml.safe_dump(doc, f, sort_keys=False)
EOF
        args+=(--model "$tmp/models/model.yaml" --store "$tmp/device.store")
        with_model=1
    else
        echo "scratch install: no $model or no $bin yet: installing without a model file"
    fi

    listing() { find "$root" -printf '%p %m %U:%G %s %T@ %l\n' | sort; }
    listing >"$tmp/listing.before"
    IOTCS_HW_BIN=$bin bash "$install_sh" --dry-run "${args[@]}" >"$tmp/dry.log" 2>&1 ||
        { cat "$tmp/dry.log" >&2; fail "install.sh --dry-run failed"; }
    listing | diff "$tmp/listing.before" - >&2 || fail "install.sh --dry-run changed the scratch root"
    echo "dry run: changed nothing"

    IOTCS_HW_BIN=$bin bash "$install_sh" "${args[@]}" >"$tmp/install.log" 2>&1 ||
        { cat "$tmp/install.log" >&2; fail "install.sh --root failed"; }
    local u g
    u=$(uid_in "$root" iotcs-hw passwd)
    g=$(uid_in "$root" iotcs-hw group)
    if [ -z "$u" ] || [ -z "$g" ]; then fail "scratch install: no iotcs-hw user/group in $root/etc/passwd"; fi
    for grp in gpio i2c spi; do
        grep -Eq "^$grp:[^:]*:[0-9]+:(.*,)?iotcs-hw(,|$)" "$root/etc/group" ||
            fail "scratch install: iotcs-hw is not in group $grp"
    done
    expect_file "$root" /usr/local/lib/systemd/system/iotcs-hw.service 644 0:0
    expect_file "$root" /usr/local/lib/systemd/system/iotcs-hw@.service 644 0:0
    expect_file "$root" /usr/local/lib/sysusers.d/iotcs-hw.conf 644 0:0
    expect_file "$root" /usr/local/lib/tmpfiles.d/iotcs-hw.conf 644 0:0
    expect_file "$root" /etc/iotcs-hw/store-password 600 0:0
    expect_file "$root" /etc/modules-load.d/iotcs-hw.conf 644 0:0
    expect_file "$root" /opt/iotcs-hw/share/deploy/install.sh 755 0:0
    if [ "$with_model" = 1 ]; then
        expect_file "$root" /etc/iotcs-hw/model.yaml 640 "0:$g"
        expect_file "$root" /etc/iotcs-hw/greenhouse.json 640 "0:$g"
        expect_file "$root" /var/lib/iotcs-hw/device.store 600 "$u:$g"
    fi
    [ "$(stat -c '%a %u:%g' "$root/etc/iotcs-hw")" = "750 0:$g" ] || fail "scratch install: /etc/iotcs-hw mode/owner"
    [ "$(stat -c '%a %u:%g' "$root/var/lib/iotcs-hw")" = "700 $u:$g" ] || fail "scratch install: /var/lib/iotcs-hw mode/owner"
    [ -L "$root/etc/systemd/system/multi-user.target.wants/iotcs-hw.service" ] ||
        fail "scratch install: iotcs-hw.service not enabled"
    local line
    for line in dtparam=i2c_arm=on dtparam=spi=on dtoverlay=w1-gpio; do
        [ "$(grep -c "^$line\$" "$root/boot/firmware/config.txt")" = 1 ] ||
            fail "scratch install: config.txt lacks '$line'"
    done
    echo "config.txt: i2c, spi and 1-Wire enabled; user, units, directories and credential in place"

    cp -a "$root" "$tmp/before"
    IOTCS_HW_BIN=$bin bash "$install_sh" "${args[@]}" >"$tmp/again.log" 2>&1 ||
        { cat "$tmp/again.log" >&2; fail "install.sh --root failed on the second run"; }
    diff -r --no-dereference "$tmp/before" "$root" >&2 || fail "install.sh is not idempotent: the second run changed files"
    echo "second run: nothing changed"
}

run_all() {
    step "tools"
    install_tools
    step "shellcheck"
    local scripts=()
    mapfile -t scripts < <(find "$DEPLOY" -type f -name '*.sh' | sort)
    scripts+=("$DEPLOY"/deb/DEBIAN/postinst "$DEPLOY"/deb/DEBIAN/prerm "$DEPLOY"/deb/DEBIAN/postrm)
    check_shellcheck "${scripts[@]}"
    step "systemd-analyze verify (ExecStart stubbed)"
    check_verify "$DEPLOY"/systemd/*.service "$DEPLOY/cloud-init/iotcs-hw-firstboot.service"
    step "systemd-analyze security --offline=yes --threshold=$THRESHOLD"
    check_security "$DEPLOY"/systemd/*.service
    step "cloud-init schema"
    check_user_data "$DEPLOY/cloud-init/user-data"
    step "network-config"
    check_network_config "$DEPLOY/cloud-init/network-config"
    step "rpi-image-gen layer"
    check_image_layer "$DEPLOY"/image/layer/*.yaml
    step ".deb"
    check_deb
    step "install.sh into a scratch root"
    check_scratch_install
    step "pytest tests/deploy (broken-file cases, with the tools installed)"
    local py=$REPO/.venv/bin/python
    [ -x "$py" ] || py=python3
    (cd "$REPO" && "$py" -m pytest -q tests/deploy -rs)
}

if [ "$#" -eq 0 ]; then
    run_all
    exit 0
fi
check=$1
shift
case $check in
lint) check_shellcheck "$@" ;;
verify) check_verify "$@" ;;
security) check_security "$@" ;;
user-data) check_user_data "$@" ;;
network-config) check_network_config "$@" ;;
image-layer) check_image_layer "$@" ;;
deb) check_deb "$@" ;;
scratch-install) check_scratch_install "$@" ;;
*) fail "unknown check '$check' (see the top of $0)" ;;
esac
