# Sourced by /init (as /etc/root.sh): read the kernel command line, decide where the root
# image and the layers come from and the sha256 each must have, and fetch them.
# With an image named (diskless.image=), the hashes are the ones built into this initrd
# (SUMS, written by build-image after the root image), never a hash a replica serves or
# the command line gives: a forged inventory's kernelArgs cannot redirect the root.
# Uses say and fail from /init; tested under busybox with its own.
SUMS=${SUMS:-/etc/diskless.sha256}

# parse_cmdline ARG...: the diskless.* parameters into shell variables.
parse_cmdline() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      diskless.root=*) ROOT_URLS="${arg#diskless.root=}" ;;
      diskless.image=*) IMAGE="${arg#diskless.image=}" ;;
      diskless.servers=*) SERVERS="${arg#diskless.servers=}" ;;
      diskless.sha256=*) ROOT_SHA256="${arg#diskless.sha256=}" ;;
      diskless.name=*) NODE_NAME="${arg#diskless.name=}" ;;
      diskless.debug=*) DEBUG=1 ;;
      diskless.live=*) LIVE="${arg#diskless.live=}" ;;
      diskless.layers=*) LAYERS="${arg#diskless.layers=}" ;;
      diskless.rootdev=*) ROOTDEV="${arg#diskless.rootdev=}" ;;
      diskless.scratch=*) SCRATCH="${arg#diskless.scratch=}" ;;
      diskless.ip=*) STATIC_IP="${arg#diskless.ip=}" ;;
    esac
  done
}

# image_urls FILE: the URL of the image's FILE on each replica, comma-separated, in order.
image_urls() {
  local s
  for s in $(echo "$SERVERS" | tr ',' ' '); do printf 'http://%s/images/%s/%s,' "$s" "$IMAGE" "$1"; done
}

# root_sources ROOTFILE: with an image named, diskless.root= and diskless.sha256= are
# dropped (and said so) and the root is the image's ROOTFILE on each replica.
root_sources() {
  [ -n "$IMAGE" ] || return 0
  if [ -n "$ROOT_URLS" ] || [ -n "$ROOT_SHA256" ]; then
    say "ignoring${ROOT_URLS:+ diskless.root=$ROOT_URLS}${ROOT_SHA256:+ diskless.sha256=$ROOT_SHA256}: diskless.image=$IMAGE is named, so the root comes from diskless.servers= and must match the sha256 built into this initrd"
  fi
  ROOT_URLS=
  ROOT_SHA256=
  [ -z "$LIVE" ] && [ -z "$ROOTDEV" ] && ROOT_URLS=$(image_urls "$1")
  return 0
}

# want_sha256 FILE: the sha256 FILE must have. With an image: the one built in (none if
# this initrd has none for FILE). Without: diskless.sha256=, or nothing (no check).
want_sha256() {
  if [ -n "$IMAGE" ]; then
    awk -v f="$1" '$2 == f { print $1; exit }' "$SUMS" 2>/dev/null
  else
    echo "$ROOT_SHA256"
  fi
}

# urlencode TEXT: TEXT's first 300 bytes, every one percent-encoded (%XX).
urlencode() {
  printf '%s' "$1" | head -c 300 | od -An -tx1 -v | tr -d ' \n' | sed 's/\(..\)/%\1/g'
}

# report WHAT [MESSAGE]: tell every replica of diskless.servers= how this boot goes
# (GET /report/MAC/WHAT?msg=MESSAGE; MAC is this node's, set by /init once it has a
# link), all at once, each given 3 s; the boot goes on whether they hear it or not.
report() {
  [ -n "$SERVERS" ] && [ -n "$MAC" ] || return 0
  local s q=
  [ -n "$2" ] && q="?msg=$(urlencode "$2")"
  for s in $(echo "$SERVERS" | tr ',' ' '); do
    # timeout, not wget -T: Debian's busybox 1.35 wget crashes (SIGSEGV) with -T.
    timeout 3 wget -q -O /dev/null "http://$s/report/$MAC/$1$q" >/dev/null 2>&1 &
  done
  wait
  return 0
}

# fetch WHAT FILE URLS DEST: the first of URLS (comma-separated, tried in order) whose
# bytes have FILE's sha256 lands in DEST; otherwise a clear message, a pause (fail), and
# another round. With an image named and no sha256 built in for FILE, nothing is fetched.
fetch() {
  local want url got from="of diskless.sha256="
  want=$(want_sha256 "$2")
  [ -n "$IMAGE" ] && from="built into this initrd"
  while [ -n "$IMAGE" ] && [ -z "$want" ]; do
    fail "this initrd has no sha256 for $2 (in $SUMS), so it fetches no $1 named $2: boot an initrd built with it"
  done
  while :; do
    for url in $(echo "$3" | tr ',' ' '); do
      say "fetching $1 from $url"
      wget -q -O "$4" "$url" || { say "no $2 from $url"; report fetch "no $2 from $url"; continue; }
      got=$(sha256sum "$4" | cut -d' ' -f1)
      if [ -z "$want" ] || [ "$got" = "$want" ]; then return 0; fi
      say "sha256 mismatch for $url: refused, it is $got, not the $want $from"
      report sha256 "sha256 mismatch for $url: refused, it is $got, not the $want $from"
    done
    rm -f "$4"
    report retry "could not get a good $1 from: ${3:-no diskless.image= or diskless.root= on the command line}"
    fail "could not get a good $1 from: ${3:-no diskless.image= or diskless.root= on the command line}"
  done
}
