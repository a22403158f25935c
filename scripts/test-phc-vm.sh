#!/usr/bin/env bash
# Runs the PTP_SYS_OFFSET_EXTENDED test against a real PTP hardware clock:
# the host has none, so it boots Debian's kernel in QEMU (software
# emulation: the host's nested KVM hangs this kernel) with an emulated Intel
# 82574 NIC (e1000e), whose driver registers /dev/ptp0, and runs clockwatch's
# `sys::tests::a_real_phc_is_read_and_agrees_with_its_posix_clock` there
# (a static musl test binary in an initramfs). The VM has no network.
#   sudo scripts/test-phc-vm.sh          # ~1 min; kernel and tools cached in target/phc-vm
# Needs: qemu-system-x86 and busybox-static (installed as root if missing),
# the rustup target x86_64-unknown-linux-musl; apt-get download fetches the
# kernel package once.
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
cd "$(dirname "$0")/.."
loud() { printf '\n!!! %s\n\n' "$*" >&2; }
skip() {
    if [ "${CI:-}" = true ]; then loud "FAIL (CI): $*"; exit 1; fi
    loud "SKIP: $*"; exit 0
}

missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    else
        skip "missing ${missing[*]} (apt-get install ${missing[*]})"
    fi
fi
rustup target list --installed 2>/dev/null | grep -q x86_64-unknown-linux-musl ||
    skip "missing rustup target x86_64-unknown-linux-musl"

work=target/phc-vm
mkdir -p "$work"
# The kernel: the exact package linux-image-amd64 depends on, downloaded
# once (by name, never a pattern).
kernel_pkg="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
[ -n "$kernel_pkg" ] || skip "apt-cache knows no linux-image-amd64"
if [ ! -d "$work/$kernel_pkg" ]; then
    (cd "$work" && apt-get download -q "$kernel_pkg" >/dev/null 2>&1)
    dpkg-deb -x "$work/${kernel_pkg}"_*.deb "$work/$kernel_pkg"
    rm -f "$work/${kernel_pkg}"_*.deb
fi
vmlinuz="$(ls "$work/$kernel_pkg"/boot/vmlinuz-*)"
e1000e="$(find "$work/$kernel_pkg/lib/modules" -name e1000e.ko | head -n1)"
[ -n "$e1000e" ] || skip "$kernel_pkg has no e1000e module"

echo "== static test binary (x86_64-unknown-linux-musl)"
test_bin="$(cargo test -p clockwatch --lib --target x86_64-unknown-linux-musl --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["lib"]:
        print(m["executable"])')"
[ -x "$test_bin" ] || { loud "no test binary built"; exit 1; }

root="$work/initramfs"
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp}
cp /bin/busybox "$root/bin/"
cp "$e1000e" "$root/e1000e.ko"
cp "$test_bin" "$root/clockwatch-test"
strip "$root/clockwatch-test" 2>/dev/null || true
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp
insmod /e1000e.ko
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e /dev/ptp0 ] && break; sleep 0.5; done
echo "PHC: $(cat /sys/class/ptp/ptp0/clock_name 2>/dev/null || echo none)"
CLOCKWATCH_TEST_PHC=/dev/ptp0 TMPDIR=/tmp /clockwatch-test --exact --ignored --nocapture \
    sys::tests::a_real_phc_is_read_and_agrees_with_its_posix_clock
echo "VM-TEST-EXIT $?"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$work/initramfs.gz"

echo "== booting $kernel_pkg in QEMU (no network) with an e1000e NIC"
log="$work/vm.log"
timeout 600 qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 1024 -nographic -no-reboot \
    -kernel "$vmlinuz" -initrd "$work/initramfs.gz" \
    -append "console=ttyS0 panic=-1 loglevel=3" \
    -nic none -device e1000e >"$log" 2>&1 || true
grep -E "^PHC:|PHC /dev|^test |test result|VM-TEST-EXIT|panicked" "$log" || true
if grep -q "VM-TEST-EXIT 0" "$log" && grep -q "test result: ok. 1 passed" "$log"; then
    echo "== PHC test passed in the VM"
else
    loud "PHC test failed in the VM; the console is in $log"
    exit 1
fi
