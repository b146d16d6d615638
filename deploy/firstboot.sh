#!/usr/bin/env bash
# First boot: run install.sh with what cloud-init (or you) put in DIR, then delete DIR, which
# holds the store password. DIR has model.yaml, device.store, store-password and bundle/
# (install.sh, units, the iotcs-hw wheel and device-models/: the model file's device-model
# JSON files), as made by deploy/cloud-init/render.sh.
# Output lands in /var/log/cloud-init-output.log when cloud-init runs it.
set -euo pipefail

dir=${1:?usage: firstboot.sh DIR}
bundle=$dir/bundle
wheel=""
for w in "$bundle"/iotcs_hw-*.whl; do
    [ -e "$w" ] && wheel=$w
done
[ -n "$wheel" ] || {
    echo "firstboot.sh: error: no iotcs_hw-*.whl in $bundle" >&2
    exit 1
}
args=(--wheel "$wheel")
[ ! -s "$dir/model.yaml" ] || args+=(--model "$dir/model.yaml")
[ ! -d "$bundle/device-models" ] || args+=(--models "$bundle/device-models")
[ ! -s "$dir/device.store" ] || args+=(--store "$dir/device.store")
[ ! -s "$dir/store-password" ] || args+=(--password-file "$dir/store-password")

if bash "$bundle/deploy/install.sh" "${args[@]}"; then
    rm -rf "$dir"
    echo "firstboot.sh: iotcs-hw installed; see: journalctl -u iotcs-hw"
else
    echo "firstboot.sh: error: install.sh failed (see above); $dir kept for a retry: sudo bash $0 $dir" >&2
    exit 1
fi
