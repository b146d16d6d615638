#!/usr/bin/env bash
# Install or upgrade iotcs-hw on a Raspberry Pi (Raspberry Pi OS / Debian Bookworm or Trixie,
# arm64 or armhf) and run a model file as the hardened systemd service.
#
# Re-running it is an upgrade: the venv is reused and the package upgraded, files are replaced
# only when they differ, an activated store is never overwritten, and a model file that fails
# `iotcs-hw check` never becomes the live one. See deploy/README.md for the whole story.
set -euo pipefail

readonly PROG=install.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly SUPPORTED_CODENAMES="bookworm trixie"
readonly SUPPORTED_ARCHES="arm64 armhf"
readonly APT_PACKAGES="python3-venv python3-lgpio python3-cryptography python3-yaml python3-requests"
readonly SERVICE_USER=iotcs-hw

usage() {
    cat <<EOF
Usage: sudo deploy/install.sh [OPTIONS]

Installs iotcs-hw under /opt/iotcs-hw, the service account (sysusers.d), its directories
(tmpfiles.d), the systemd unit, and (when given) the model file, store and store password;
enables the hardware interfaces the model file needs; enables and (re)starts the service.

Options:
  --model FILE          model file to run; checked with 'iotcs-hw check' before it goes live
                        as /etc/iotcs-hw/model.yaml (or /etc/iotcs-hw/NAME.yaml with --name)
  --models DIR          device-model JSON files the model file binds to (default: the model
                        file's directory); installed beside the live model file in /etc/iotcs-hw
  --store FILE          trusted-assets store (provisioning file); copied to the path the model
                        file names under /var/lib/iotcs-hw, only if no store is there yet
  --replace-store       overwrite an existing store (it loses its activation)
  --password-file FILE  store password, installed 0600 root as the systemd credential
                        /etc/iotcs-hw/store-password (or NAME.store-password)
  --name NAME           run the model as instance iotcs-hw@NAME (several model files per Pi)
  --wheel FILE          iotcs-hw wheel to install (default: the source checkout around this script)
  --interfaces LIST     comma list of i2c,spi,onewire to enable, or 'none'
                        (default: detected from the model file)
  --no-start            enable the service but do not (re)start it
  --skip-apt            do not apt-get install (the .deb declares them as dependencies)
  --arch ARCH           target architecture (default: \$IOTCS_HW_ARCH, else dpkg --print-architecture)
  --root DIR            place files under DIR instead of / (scratch root or image build): no apt,
                        no venv, no live interface or service changes
  --image               installing inside an image build (detected when systemd is not running
                        or in a chroot): everything but live changes (raspi-config, starting)
  --uninstall           stop and remove the service and /opt/iotcs-hw (keeps /etc/iotcs-hw and
                        /var/lib/iotcs-hw; add --purge to remove them and the account too)
  --purge               with --uninstall: also remove configuration, state and store
  --dry-run             print what would be done and change nothing
  -h, --help            this text

Environment:
  IOTCS_HW_BIN          iotcs-hw executable used for 'iotcs-hw check'
                        (default: the installed /opt/iotcs-hw/venv/bin/iotcs-hw)
  IOTCS_HW_ARCH         as --arch (for the .deb's postinst)
EOF
}

# ------------------------------------------------------------------------------------------
# Output and actions

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }

# Run a command that changes the system, or only show it with --dry-run.
act() {
    if [ "$DRY_RUN" = 1 ]; then
        printf 'would run: %s\n' "$*"
    else
        printf '+ %s\n' "$*"
        "$@"
    fi
}

# Install SRC as DEST (under ROOT) with MODE, OWNER:GROUP (names resolved inside ROOT);
# leaves an identical file alone so that re-runs change nothing. Atomic: copy then rename.
place() {
    local src=$1 dest=$ROOT$2 mode=$3 owner=$4 group=$5
    if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "${mode#0}" ]; then
        say "unchanged: $2"
        return 0
    fi
    if [ "$DRY_RUN" = 1 ]; then
        printf 'would install: %s -> %s (mode %s, %s:%s)\n' "$src" "$2" "$mode" "$owner" "$group"
        return 0
    fi
    local uid gid
    uid=$(root_id passwd "$owner")
    gid=$(root_id group "$group")
    mkdir -p "$(dirname "$dest")"
    install -m "$mode" -o "$uid" -g "$gid" "$src" "$dest.iotcs-hw-new"
    mv -f "$dest.iotcs-hw-new" "$dest"
    printf 'installed: %s (mode %s, %s:%s)\n' "$2" "$mode" "$owner" "$group"
}

# Make directory DIR (under ROOT) with MODE and owner.
place_dir() {
    local dir=$ROOT$1 mode=$2 owner=$3 group=$4
    if [ "$DRY_RUN" = 1 ]; then
        [ -d "$dir" ] || printf 'would create directory: %s (mode %s, %s:%s)\n' "$1" "$mode" "$owner" "$group"
        return 0
    fi
    install -d -m "$mode" -o "$(root_id passwd "$owner")" -g "$(root_id group "$group")" "$dir"
}

# Numeric id of a user or group as the target root knows it (ROOT/etc/passwd, ROOT/etc/group).
root_id() {
    local db=$1 name=$2 id
    if [ "$name" = root ]; then
        echo 0
        return 0
    fi
    id=$(awk -F: -v n="$name" '$1 == n { print $3; exit }' "$ROOT/etc/$db" 2>/dev/null || true)
    [ -n "$id" ] || die "no $db entry '$name' in $ROOT/etc/$db (did systemd-sysusers run?)"
    printf '%s\n' "$id"
}

# ------------------------------------------------------------------------------------------
# Arguments

MODEL="" MODELS_DIR="" STORE="" PASSWORD_FILE="" NAME="" WHEEL="" INTERFACES="auto" ARCH=${IOTCS_HW_ARCH:-}
ROOT="" DRY_RUN=0 START=1 REPLACE_STORE=0 UNINSTALL=0 PURGE=0 IMAGE=0 SKIP_APT=0

need_arg() {
    if [ "$#" -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi
}

while [ "$#" -gt 0 ]; do
    case $1 in
    --model) need_arg "$@"; MODEL=$2; shift 2 ;;
    --models) need_arg "$@"; MODELS_DIR=$2; shift 2 ;;
    --store) need_arg "$@"; STORE=$2; shift 2 ;;
    --replace-store) REPLACE_STORE=1; shift ;;
    --password-file) need_arg "$@"; PASSWORD_FILE=$2; shift 2 ;;
    --name) need_arg "$@"; NAME=$2; shift 2 ;;
    --wheel) need_arg "$@"; WHEEL=$2; shift 2 ;;
    --interfaces) need_arg "$@"; INTERFACES=$2; shift 2 ;;
    --no-start) START=0; shift ;;
    --skip-apt) SKIP_APT=1; shift ;;
    --arch) need_arg "$@"; ARCH=$2; shift 2 ;;
    --root) need_arg "$@"; ROOT=$2; shift 2 ;;
    --image) IMAGE=1; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done

# Not booted with systemd as PID 1 (sd_booted()) or in a chroot: an image build, no live changes.
if [ "$IMAGE" = 0 ] && [ -z "$ROOT" ] &&
    { [ ! -d /run/systemd/system ] || systemd-detect-virt --chroot >/dev/null 2>&1; }; then
    IMAGE=1
fi
if [ -n "$ROOT" ]; then
    [ -d "$ROOT" ] || die "--root $ROOT: no such directory"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" != / ] || ROOT=""
fi

readonly PREFIX=/opt/iotcs-hw
readonly VENV=$PREFIX/venv
readonly UNIT_DIR=/usr/local/lib/systemd/system
readonly SYSUSERS_CONF=/usr/local/lib/sysusers.d/iotcs-hw.conf
readonly TMPFILES_CONF=/usr/local/lib/tmpfiles.d/iotcs-hw.conf
readonly ETC_DIR=/etc/iotcs-hw
readonly STATE_BASE=/var/lib/iotcs-hw

if [ -n "$NAME" ]; then
    case $NAME in
    *[!A-Za-z0-9_.-]* | .* | *.yaml) die "--name '$NAME': use letters, digits, '_', '-' and '.' (no .yaml)" ;;
    esac
    UNIT="iotcs-hw@$NAME.service"
    LIVE_MODEL=$ETC_DIR/$NAME.yaml
    LIVE_PASSWORD=$ETC_DIR/$NAME.store-password
    STATE_DIR=$STATE_BASE/$NAME
else
    UNIT=iotcs-hw.service
    LIVE_MODEL=$ETC_DIR/model.yaml
    LIVE_PASSWORD=$ETC_DIR/store-password
    STATE_DIR=$STATE_BASE
fi

# ------------------------------------------------------------------------------------------
# Preflight: everything here only reads; a refusal leaves the machine exactly as it was.

# KEY's value in an os-release file, parsed rather than sourced (it may come from a scratch root).
os_release_field() {
    sed -n "s/^$2=//p" "$1" | head -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

check_os() {
    local os_release=$ROOT/etc/os-release
    [ -r "$os_release" ] || os_release=$ROOT/usr/lib/os-release
    [ -r "$os_release" ] || die "unsupported OS: no /etc/os-release in '${ROOT:-/}'; iotcs-hw installs on Raspberry Pi OS or Debian ($SUPPORTED_CODENAMES)"
    local id id_like codename pretty
    id=$(os_release_field "$os_release" ID)
    id_like=$(os_release_field "$os_release" ID_LIKE)
    codename=$(os_release_field "$os_release" VERSION_CODENAME)
    pretty=$(os_release_field "$os_release" PRETTY_NAME)
    pretty=${pretty:-$id}
    case " $id $id_like " in
    *" debian "* | *" raspbian "*) ;;
    *) die "unsupported OS '$pretty': iotcs-hw installs on Raspberry Pi OS or Debian ($SUPPORTED_CODENAMES); nothing was changed" ;;
    esac
    case " $SUPPORTED_CODENAMES " in
    *" $codename "*) ;;
    *) die "unsupported release '$pretty' (codename '${codename:-none}'): supported are $SUPPORTED_CODENAMES; nothing was changed" ;;
    esac
    OS_CODENAME=$codename
    OS_PRETTY=$pretty
}

check_arch() {
    if [ -z "$ARCH" ]; then
        if command -v dpkg >/dev/null 2>&1; then
            ARCH=$(dpkg --print-architecture)
        else
            case $(uname -m) in
            aarch64) ARCH=arm64 ;;
            armv6l | armv7l) ARCH=armhf ;;
            *) ARCH=$(uname -m) ;;
            esac
        fi
    fi
    case " $SUPPORTED_ARCHES " in
    *" $ARCH "*) ;;
    *) die "unsupported architecture '$ARCH': iotcs-hw installs on Raspberry Pi boards running arm64 or armhf; nothing was changed" ;;
    esac
}

# The systemd tools install.sh drives; found before anything changes.
check_tools() {
    local tool
    for tool in systemd-sysusers systemd-tmpfiles systemctl; do
        command -v "$tool" >/dev/null 2>&1 ||
            die "$tool not found: iotcs-hw runs as a systemd service (apt-get install systemd); nothing was changed"
    done
}

check_inputs() {
    if [ "$(id -u)" != 0 ] && [ "$DRY_RUN" = 0 ]; then
        die "run as root (sudo $0 ...), or try --dry-run"
    fi
    local f
    for f in "$MODEL" "$STORE" "$PASSWORD_FILE" "$WHEEL"; do
        [ -z "$f" ] || [ -r "$f" ] || die "cannot read '$f'"
    done
    if [ -n "$MODELS_DIR" ] && [ ! -d "$MODELS_DIR" ]; then
        die "--models '$MODELS_DIR': no such directory"
    fi
    if [ -n "$PASSWORD_FILE" ] && [ ! -s "$PASSWORD_FILE" ]; then
        die "password file '$PASSWORD_FILE' is empty"
    fi
    if [ -z "$WHEEL" ] && [ -z "$ROOT" ] && [ ! -f "$SCRIPT_DIR/../pyproject.toml" ] &&
        [ ! -x "$VENV/bin/iotcs-hw" ] && [ "$UNINSTALL" = 0 ]; then
        die "no --wheel given, $SCRIPT_DIR/.. is not an iotcs-hw source checkout, and $VENV has no iotcs-hw yet"
    fi
    case $INTERFACES in
    auto | none) ;;
    *)
        local i
        for i in ${INTERFACES//,/ }; do
            case $i in i2c | spi | onewire) ;; *) die "--interfaces: unknown interface '$i' (use i2c, spi, onewire or none)" ;; esac
        done
        ;;
    esac
}

# ------------------------------------------------------------------------------------------
# Steps

# apt knows a version of package $1 it could install.
has_candidate() {
    apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [^(]'
}

install_packages() {
    if [ -n "$ROOT" ] || [ "$SKIP_APT" = 1 ]; then
        say "skipped ($([ -n "$ROOT" ] && echo "--root mode" || echo "--skip-apt")): apt-get install $APT_PACKAGES"
        [ -n "$ROOT" ] || python3 -c 'import lgpio' 2>/dev/null || NEED_PIP_LGPIO=1
        return 0
    fi
    local missing="" p
    for p in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
    done
    if [ -z "$missing" ]; then
        say "apt packages already installed: $APT_PACKAGES"
        return 0
    fi
    # Images often ship without package lists: refresh them when a package has no candidate.
    for p in $missing; do
        if [ "$p" != python3-lgpio ] && ! has_candidate "$p"; then
            act apt-get update -q
            break
        fi
    done
    local pkgs=""
    for p in $missing; do
        if [ "$p" = python3-lgpio ] && ! has_candidate python3-lgpio; then
            warn "python3-lgpio is not in this system's apt sources (plain Debian): lgpio comes from PyPI instead"
            NEED_PIP_LGPIO=1
            continue
        fi
        pkgs="$pkgs $p"
    done
    [ -n "$pkgs" ] || return 0
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    act env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs
}

install_account_and_dirs() {
    place "$SCRIPT_DIR/sysusers.d/iotcs-hw.conf" "$SYSUSERS_CONF" 0644 root root
    place "$SCRIPT_DIR/tmpfiles.d/iotcs-hw.conf" "$TMPFILES_CONF" 0644 root root
    if [ -n "$ROOT" ]; then
        [ -d "$ROOT/etc" ] || act mkdir -p "$ROOT/etc"
        act systemd-sysusers --root="$ROOT" "$ROOT$SYSUSERS_CONF"
        act systemd-tmpfiles --root="$ROOT" --create "$ROOT$TMPFILES_CONF"
    else
        act systemd-sysusers "$SYSUSERS_CONF"
        act systemd-tmpfiles --create "$TMPFILES_CONF"
    fi
    if [ "$STATE_DIR" != "$STATE_BASE" ]; then
        place_dir "$STATE_DIR" 0700 "$SERVICE_USER" "$SERVICE_USER"
    fi
}

install_runtime() {
    if [ -n "$ROOT" ]; then
        say "skipped in --root mode: python3 -m venv --system-site-packages $VENV and pip install"
        return 0
    fi
    local spec=${WHEEL:-$SCRIPT_DIR/..}
    if [ -z "$WHEEL" ] && [ ! -f "$SCRIPT_DIR/../pyproject.toml" ]; then
        say "keeping the installed iotcs-hw ($("$VENV/bin/iotcs-hw" --version 2>/dev/null || echo '?')): no --wheel and no source checkout"
        return 0
    fi
    [ "$NEED_PIP_LGPIO" = 0 ] || spec="${spec}[pi]"
    # Rebuild when the system's Python changed (Bookworm 3.11 -> Trixie 3.13) or the venv broke.
    local version='import sys; print("%d.%d" % sys.version_info[:2])' have="" want
    want=$(python3 -c "$version")
    [ ! -x "$VENV/bin/python" ] || have=$("$VENV/bin/python" -c "$version" 2>/dev/null || true)
    if [ "$have" != "$want" ]; then
        act python3 -m venv --system-site-packages --clear "$VENV"
    else
        say "reusing $VENV (Python $have)"
    fi
    act "$VENV/bin/python" -m pip install --quiet --upgrade "$spec"
}

# A copy of this script and what it installs, for later upgrades and --uninstall:
# sudo /opt/iotcs-hw/share/deploy/install.sh --uninstall
install_deploy_copy() {
    local f
    for f in install.sh firstboot.sh README.md systemd/iotcs-hw.service systemd/iotcs-hw@.service \
        sysusers.d/iotcs-hw.conf tmpfiles.d/iotcs-hw.conf; do
        case $f in
        *.sh) place "$SCRIPT_DIR/$f" "$PREFIX/share/deploy/$f" 0755 root root ;;
        *) place "$SCRIPT_DIR/$f" "$PREFIX/share/deploy/$f" 0644 root root ;;
        esac
    done
}

# Which interfaces the model file needs: I2C when it names I2C buses or chip addresses, SPI for
# SPI ADCs, 1-Wire for DS18B20-family sensors. --interfaces overrides the guess.
detect_interfaces() {
    if [ "$INTERFACES" != auto ]; then
        [ "$INTERFACES" = none ] && WANTED="" || WANTED=${INTERFACES//,/ }
        return 0
    fi
    WANTED=""
    [ -n "$MODEL" ] || return 0
    local text
    text=$(sed 's/#.*//' "$MODEL" | tr '[:upper:]' '[:lower:]')
    if grep -Eq '(^|[^a-z])i2c|address:' <<<"$text"; then WANTED="$WANTED i2c"; fi
    if grep -Eq '(^|[^a-z])spi|mcp3[0-9]{3}' <<<"$text"; then WANTED="$WANTED spi"; fi
    if grep -Eq 'ds18[bs]20|onewire|1-wire|w1_' <<<"$text"; then WANTED="$WANTED onewire"; fi
    WANTED=${WANTED# }
}

config_txt_path() {
    local p
    for p in /boot/firmware/config.txt /boot/config.txt; do
        if [ -f "$ROOT$p" ]; then
            printf '%s\n' "$p"
            return 0
        fi
    done
}

# Append LINE to config.txt unless an uncommented line already says it.
ensure_config_line() {
    local file=$1 line=$2
    if grep -Eq "^[[:space:]]*${line//./\\.}([[:space:]]|$)" "$ROOT$file"; then
        say "already in $file: $line"
    elif [ "$DRY_RUN" = 1 ]; then
        printf 'would append to %s: %s\n' "$file" "$line"
    else
        printf '%s\n' "$line" >>"$ROOT$file"
        printf 'appended to %s: %s\n' "$file" "$line"
        REBOOT_NEEDED=1
    fi
}

enable_interfaces() {
    detect_interfaces
    if [ -z "$WANTED" ]; then
        say "no I2C, SPI or 1-Wire interface to enable"
        return 0
    fi
    say "interfaces the model file needs: $WANTED"
    local i
    if [ -z "$ROOT" ] && [ "$IMAGE" = 0 ] && command -v raspi-config >/dev/null 2>&1; then
        for i in $WANTED; do
            act raspi-config nonint "do_$i" 0
        done
        case " $WANTED " in *" onewire "* | *" spi "*) REBOOT_NEEDED=1 ;; esac
        return 0
    fi
    local cfg
    cfg=$(config_txt_path)
    if [ -z "$cfg" ]; then
        warn "no raspi-config and no /boot/firmware/config.txt: enable $WANTED yourself (deploy/README.md, 'Enabling interfaces')"
        return 0
    fi
    local modules=""
    for i in $WANTED; do
        case $i in
        i2c) ensure_config_line "$cfg" "dtparam=i2c_arm=on"; modules="$modules i2c-dev" ;;
        spi) ensure_config_line "$cfg" "dtparam=spi=on" ;;
        onewire) ensure_config_line "$cfg" "dtoverlay=w1-gpio" ;;
        esac
    done
    if [ -n "$modules" ]; then
        local tmp
        tmp=$(mktemp)
        printf '# Loaded for iotcs-hw: /dev/i2c-* needs i2c-dev.\n%s\n' "${modules# }" >"$tmp"
        place "$tmp" /etc/modules-load.d/iotcs-hw.conf 0644 root root
        rm -f "$tmp"
    fi
}

install_units() {
    place "$SCRIPT_DIR/systemd/iotcs-hw.service" "$UNIT_DIR/iotcs-hw.service" 0644 root root
    place "$SCRIPT_DIR/systemd/iotcs-hw@.service" "$UNIT_DIR/iotcs-hw@.service" 0644 root root
}

# The store path the model file names (store: {path: ...}), or nothing if it cannot be read.
model_store_path() {
    local py
    for py in "$ROOT$VENV/bin/python" /usr/bin/python3 python3; do
        if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import yaml' 2>/dev/null; then
            "$py" - "$1" <<'EOF' 2>/dev/null || true
import sys, yaml
with open(sys.argv[1], encoding="utf-8") as f:
    doc = yaml.safe_load(f)
store = doc.get("store") if isinstance(doc, dict) else None
path = store.get("path") if isinstance(store, dict) else store
if isinstance(path, str):
    print(path)
EOF
            return 0
        fi
    done
}

# Never let a model file that fails `iotcs-hw check` become the live one. Runs before any
# change when an iotcs-hw is already there (upgrade, IOTCS_HW_BIN), else right after the venv.
check_model() {
    [ -n "$MODEL" ] && [ "$MODEL_CHECKED" = 0 ] || return 0
    local bin=${IOTCS_HW_BIN:-$ROOT$VENV/bin/iotcs-hw}
    if [ ! -x "$bin" ]; then
        if [ "$1" = early ]; then
            return 0
        elif [ "$DRY_RUN" = 1 ]; then
            say "would check $MODEL with $bin check (not installed yet)"
            return 0
        fi
        die "cannot check '$MODEL': '$bin' is not an executable iotcs-hw (set IOTCS_HW_BIN); the model file was not installed"
    fi
    local args=(check "$MODEL")
    [ -z "$MODELS_DIR" ] || args+=(--models "$MODELS_DIR")
    say "checking $MODEL with $bin ${args[*]}"
    if ! "$bin" "${args[@]}"; then
        die "'$MODEL' fails 'iotcs-hw check' (problems listed above): not installed; the live model file ${LIVE_MODEL} is unchanged"
    fi
    MODEL_CHECKED=1
}

install_model() {
    [ -n "$MODEL" ] || return 0
    check_model late
    # The runtime finds the device models in the model file's directory: put them beside it.
    local dir=${MODELS_DIR:-$(dirname "$MODEL")} json found=0
    for json in "$dir"/*.json; do
        [ -f "$json" ] || continue
        place "$json" "$ETC_DIR/$(basename "$json")" 0640 root "$SERVICE_USER"
        found=1
    done
    [ "$found" = 1 ] || warn "no device-model *.json in $dir: the model file will not find its device models"
    place "$MODEL" "$LIVE_MODEL" 0640 root "$SERVICE_USER"
}

install_store() {
    [ -n "$STORE" ] || return 0
    local dest
    dest=""
    [ -z "$MODEL" ] || dest=$(model_store_path "$MODEL")
    if [ -z "$dest" ]; then
        dest=$STATE_DIR/$(basename "$STORE")
        warn "could not read store.path from the model file; putting the store at $dest"
    fi
    case $dest in
    "$STATE_DIR"/*) ;;
    *) die "the model file puts its store at '$dest', but the service may only write under $STATE_DIR (activation rewrites the store): set store.path to $STATE_DIR/$(basename "$STORE")" ;;
    esac
    if [ -e "$ROOT$dest" ] && [ "$REPLACE_STORE" = 0 ]; then
        say "keeping the existing store $dest (it may be activated); --replace-store overwrites it"
        return 0
    fi
    place "$STORE" "$dest" 0600 "$SERVICE_USER" "$SERVICE_USER"
}

install_password() {
    [ -n "$PASSWORD_FILE" ] || return 0
    place "$PASSWORD_FILE" "$LIVE_PASSWORD" 0600 root root
}

enable_service() {
    if [ -n "$ROOT" ]; then
        act systemctl --root="$ROOT" enable "$UNIT"
        return 0
    fi
    if [ "$IMAGE" = 1 ]; then
        act systemctl enable "$UNIT"
        say "image build: $UNIT starts on first boot"
        return 0
    fi
    act systemctl daemon-reload
    act systemctl enable "$UNIT"
    if [ "$START" = 0 ]; then
        say "not started (--no-start): systemctl start $UNIT"
    elif { [ ! -e "$LIVE_MODEL" ] && [ -z "$MODEL" ]; } ||
        { [ ! -e "$LIVE_PASSWORD" ] && [ -z "$PASSWORD_FILE" ]; }; then
        warn "not started: $LIVE_MODEL and $LIVE_PASSWORD must both exist (give --model and --password-file)"
    else
        act systemctl restart "$UNIT"
        say "running: journalctl -u ${UNIT%.service} -f shows its log"
    fi
}

uninstall() {
    local u units
    if [ -n "$ROOT" ]; then
        act rm -f "$ROOT"/etc/systemd/system/multi-user.target.wants/iotcs-hw*.service
    elif [ "$IMAGE" = 1 ]; then
        # No systemd running: remove the enablement links only.
        act rm -f /etc/systemd/system/multi-user.target.wants/iotcs-hw*.service
    else
        units=$(systemctl list-units --all --plain --no-legend 'iotcs-hw*' 2>/dev/null | awk '{print $1}' || true)
        for u in iotcs-hw.service $units; do
            act systemctl disable --now "$u" || true
        done
    fi
    act rm -f "$ROOT$UNIT_DIR/iotcs-hw.service" "$ROOT$UNIT_DIR/iotcs-hw@.service" \
        "$ROOT/etc/modules-load.d/iotcs-hw.conf" "$ROOT$TMPFILES_CONF"
    act rm -rf "$ROOT$PREFIX"
    if [ "$PURGE" = 1 ]; then
        act rm -rf "$ROOT$ETC_DIR" "$ROOT$STATE_BASE"
        act rm -f "$ROOT$SYSUSERS_CONF"
        if [ -z "$ROOT" ] && id "$SERVICE_USER" >/dev/null 2>&1; then
            act userdel "$SERVICE_USER"
        fi
    else
        say "kept $ETC_DIR, $STATE_BASE (store, outbox) and the $SERVICE_USER account: --purge removes them"
    fi
    [ -n "$ROOT" ] || [ "$IMAGE" = 1 ] || act systemctl daemon-reload
    say "uninstalled"
}

# ------------------------------------------------------------------------------------------

main() {
    NEED_PIP_LGPIO=0 REBOOT_NEEDED=0 OS_CODENAME="" OS_PRETTY="" WANTED="" MODEL_CHECKED=0
    check_os
    [ "$UNINSTALL" = 1 ] || check_arch
    ARCH=${ARCH:-any}
    check_inputs
    check_tools
    [ "$DRY_RUN" = 0 ] || say "dry run: nothing will be changed"
    say "target: $OS_PRETTY ($OS_CODENAME, $ARCH) at '${ROOT:-/}', unit $UNIT$([ "$IMAGE" = 0 ] || echo ', image build')"
    if [ "$UNINSTALL" = 1 ]; then
        uninstall
        return 0
    fi
    check_model early
    install_packages
    install_account_and_dirs
    install_runtime
    install_deploy_copy
    enable_interfaces
    install_units
    install_model
    install_store
    install_password
    enable_service
    if [ "$REBOOT_NEEDED" = 1 ]; then
        say "reboot for the new interface settings to take effect: sudo reboot"
        # Debian's reboot flag; the cloud-init first boot reboots once when it is there.
        [ -n "$ROOT" ] || [ "$IMAGE" = 1 ] || act touch /run/reboot-required
    fi
    say "done"
}

main
