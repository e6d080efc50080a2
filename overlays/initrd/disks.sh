# Sourced by /init (as /etc/disks.sh): find the disks of a VM that boots from a block
# device (diskless.rootdev=, diskless.scratch=) and read its static address (diskless.ip=).
# No mounts and no output besides the answers, so it is tested with a fake sysfs (SYS).
SYS=${SYS:-/sys}

# disk_find SPEC: print the /dev path of the disk SPEC names, if it is there now.
# SPEC is /dev/NAME, or serial:NAME for the disk whose serial is NAME (QEMU's serial=,
# libvirt's <serial>): a busybox initrd has no /dev/disk/by-id, sysfs has the serials.
disk_find() {
  local s d
  case "$1" in
    serial:?*)
      for s in "$SYS"/block/*/serial; do
        [ -r "$s" ] && [ "$(cat "$s")" = "${1#serial:}" ] || continue
        d=${s%/serial}
        echo "/dev/${d##*/}"
        return 0
      done
      return 1 ;;
    /dev/?*) [ -e "$SYS/class/block/${1#/dev/}" ] && echo "$1" ;;
    *) return 1 ;;
  esac
}

# disk_wait SPEC SECONDS: print the disk's /dev path as soon as it appears; fail after SECONDS.
disk_wait() {
  local i=0
  while :; do
    disk_find "$1" && return 0
    [ "$i" -ge "$2" ] && return 1
    sleep 1
    i=$((i + 1))
  done
}

# disk_list: the disks there are (not loop or RAM devices), with their serials, for error messages.
disk_list() {
  local b s out=
  for b in "$SYS"/block/*; do
    case "${b##*/}" in '*' | loop* | ram* | zram*) continue ;; esac
    s=$(cat "$b/serial" 2>/dev/null)
    out="$out /dev/${b##*/}${s:+ (serial $s)}"
  done
  echo "${out:- none}" | cut -c2-
}

# ip_parse SPEC: split ADDR/PREFIX[,GATEWAY] (diskless.ip=) into ADDR_CIDR and GATEWAY;
# fail on anything else.
ip_parse() {
  ADDR_CIDR=${1%%,*}
  GATEWAY=
  case "$1" in *,*) GATEWAY=${1#*,}; is_ipv4 "$GATEWAY" || return 1 ;; esac
  is_ipv4 "${ADDR_CIDR%/*}" || return 1
  case "$ADDR_CIDR" in */*) ;; *) return 1 ;; esac
  local prefix=${ADDR_CIDR#*/}
  case "$prefix" in '' | *[!0-9]*) return 1 ;; esac
  [ "$prefix" -le 32 ]
}

is_ipv4() {
  local IFS=. n count=0
  case "$1" in '' | *[!0-9.]* | .* | *. | *..*) return 1 ;; esac
  for n in $1; do
    [ "$n" -le 255 ] || return 1
    count=$((count + 1))
  done
  [ "$count" = 4 ]
}
