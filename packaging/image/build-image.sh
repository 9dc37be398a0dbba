#!/usr/bin/env bash
# The appliance: Debian 12 (debootstrap, cached) + plantroot-node + plantroot installed and enabled,
# nothing else listening, a first-boot message, then a UEFI-bootable disk image built from files only
# (mkfs.ext4 -d, mtools, a standalone GRUB EFI binary; no loop devices or mounts).
# Outputs: plantroot-appliance-<version>.rootfs.tar.gz and plantroot-appliance-<version>.img (raw, sparse).
# Usage: build-image.sh OUT_DIR      (the .debs must already be in OUT_DIR; needs root)
#   PLANTROOT_IMAGE_OVERLAY=DIR  files copied over the root filesystem last (site settings, tests)
source "$(dirname "$0")/../lib/common.sh"
DEST="${1:?usage: build-image.sh OUT_DIR}"
[ "$(id -u)" = 0 ] || die "building the image needs root (chroot)"
for t in sfdisk mkfs.ext4 mkfs.vfat mcopy mmd grub-mkstandalone; do
  command -v "$t" >/dev/null || die "$t is missing (scripts/setup.sh installs fdisk, e2fsprogs, dosfstools, mtools, grub-efi-amd64-bin)"
done
deb="$DEST/plantroot_${VERSION}_${ARCH}.deb"
ndeb="$(ls "$DEST"/plantroot-node_*_"$ARCH".deb 2>/dev/null | head -n 1)"
[ -f "$deb" ] && [ -f "$ndeb" ] || die "build the .debs first (missing $deb or plantroot-node)"
base="$(bash "$PKG_DIR/image/base.sh" appliance | tail -n 1)"
name="plantroot-appliance-${VERSION}"
work="$(mktemp -d "${TMPDIR:-/var/tmp}/plantroot-image-XXXXXX")"
trap 'rm -rf --one-file-system "$work"' EXIT
root="$work/root"
mkdir -p "$root"
log "assembling the appliance root filesystem from $base"
tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -xzf "$base"

# --- install the packages offline (dpkg, dependencies already in the base) ---
mkdir -p "$root/tmp/debs"
cp "$ndeb" "$deb" "$root/tmp/debs/"
unshare --mount --fork -- bash -euc '
  root="$1"
  mount --bind /dev "$root/dev"; mount -t proc proc "$root/proc"; mount -t sysfs sysfs "$root/sys"
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    dpkg -i /tmp/debs/'"$(basename "$ndeb")"' /tmp/debs/'"$(basename "$deb")"'
' bash "$root" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; die "installing the packages into the image failed"; }
rm -rf "$root/tmp/debs"

# --- appliance settings ---
echo plantroot >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tplantroot\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
printf 'LABEL=plantroot-root\t/\text4\terrors=remount-ro\t0\t1\nLABEL=PLANTBOOT\t/boot/efi\tvfat\tumask=0077,noauto\t0\t2\n' >"$root/etc/fstab"
mkdir -p "$root/boot/efi" "$root/etc/systemd/network" "$root/etc/issue.d"
install -m 0644 "$PKG_DIR/image/20-wired.network" "$root/etc/systemd/network/20-wired.network"
install -m 0644 "$PKG_DIR/image/nftables.conf" "$root/etc/nftables.conf"
install -m 0644 "$PKG_DIR/image/plantroot.issue" "$root/etc/issue.d/plantroot.issue"
install -D -m 0644 "$PKG_DIR/image/wait-online.conf" "$root/etc/systemd/system/systemd-networkd-wait-online.service.d/plantroot.conf"
install -m 0644 "$PKG_DIR/image/plantroot-firstboot.service" "$root/etc/systemd/system/plantroot-firstboot.service"
install -m 0755 "$PKG_DIR/image/plantroot-firstboot" "$root/usr/lib/plantroot/scripts/plantroot-firstboot"
systemctl --root="$root" enable systemd-networkd.service nftables.service plantroot-firstboot.service >/dev/null 2>&1
systemctl --root="$root" is-enabled plantroot.service >/dev/null || die "plantroot.service is not enabled in the image"
# first boot: fresh machine-id; root stays locked until plantroot-firstboot sets its console password
echo uninitialized >"$root/etc/machine-id"   # machine-id(5): first boot, an ID is made on the target
rm -f "$root/var/lib/dbus/machine-id"
chroot "$root" passwd --lock root >/dev/null
if [ -n "${PLANTROOT_IMAGE_OVERLAY:-}" ]; then
  log "overlay: $PLANTROOT_IMAGE_OVERLAY"
  cp -a "$PLANTROOT_IMAGE_OVERLAY/." "$root/"
fi
rm -rf "$root/tmp/"* "$root/var/tmp/"* "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin
find "$root/var/log" -type f -exec truncate -s 0 {} +
[ -e "$root/vmlinuz" ] && [ -e "$root/initrd.img" ] || die "the kernel symlinks /vmlinuz and /initrd.img are missing"

log "writing $name.rootfs.tar.gz"
tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' --sort=name -czf "$DEST/$name.rootfs.tar.gz.tmp" .
mv "$DEST/$name.rootfs.tar.gz.tmp" "$DEST/$name.rootfs.tar.gz"

# --- UEFI disk image: GPT, EFI system partition (standalone GRUB), ext4 root made from the tree ---
cat >"$work/grub.cfg" <<'GRUB'
set timeout=2
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
search --no-floppy --label plantroot-root --set=root
menuentry "Plantroot appliance" {
  linux /vmlinuz root=LABEL=plantroot-root ro console=ttyS0,115200n8 console=tty0
  initrd /initrd.img
}
menuentry "Plantroot appliance (serial console)" {
  linux /vmlinuz root=LABEL=plantroot-root ro console=tty0 console=ttyS0,115200n8
  initrd /initrd.img
}
menuentry "Plantroot appliance (previous kernel)" {
  linux /vmlinuz.old root=LABEL=plantroot-root ro console=ttyS0,115200n8 console=tty0
  initrd /initrd.img.old
}
GRUB
grub-mkstandalone -O x86_64-efi --locales= --fonts= --themes= \
  --modules="part_gpt ext2 search search_label linux normal configfile echo serial terminal all_video gzio" \
  -o "$work/BOOTX64.EFI" "boot/grub/grub.cfg=$work/grub.cfg"
esp_mib=64
mkfs.vfat -C -n PLANTBOOT "$work/esp.img" $((esp_mib * 1024)) >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
used_mib=$(( $(du -s --block-size=1M --one-file-system "$root" | cut -f1) ))
root_mib=$(( (used_mib * 13 / 10 + 768 + 63) / 64 * 64 ))   # 30 % + 768 MiB free for data, logs, kernels
mkfs.ext4 -q -F -L plantroot-root -d "$root" "$work/root.img" "${root_mib}M"
total_mib=$((1 + esp_mib + root_mib + 1))
img="$DEST/$name.img"
rm -f "$img"
truncate -s "${total_mib}M" "$img"
sfdisk -q "$img" <<SFDISK
label: gpt
start=1MiB, size=${esp_mib}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"
start=$((1 + esp_mib))MiB, size=${root_mib}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="plantroot-root"
SFDISK
dd if="$work/esp.img" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$img" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none
log "built $img (${total_mib} MiB raw, $(du -h "$img" | cut -f1) used) and $name.rootfs.tar.gz"
