#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# vmkmgmt @VERSION@ — the REPL, the script runner, the simulator, import-c, fleet and trace in one file
# (built by `deno task compile`: compile/build.ts). After this shell text comes a gzipped tar of the
# Deno runtime, the project's modules with their npm dependencies, and the C libraries. On first use
# it is unpacked into a private cache directory — yours, closed to others, never a world-writable
# place — after its SHA-256 is checked; every start checks the C library's hash again.
set -eu

HASH=@HASH@
LIB_HASH=@LIB_HASH@
OFFSET=$((@OFFSET@ - 1000000000000)) # where the payload starts (written at a fixed width)
ME=vmkmgmt

die() {
  echo "$ME: $*" >&2
  exit 1
}

usage() {
  cat <<EOF
$ME @VERSION@ — drive ESXi's vmk_Mgmt kernel-module management API (Deno @DENO_VERSION@ inside)

Usage: $ME COMMAND [args…]     ($ME COMMAND --help for each)
  repl       the interactive shell (on a simulator it starts, unless VMKMGMT_LIB, --host or one is running)
  run        run an automation script (a file, or one that comes with it: $ME run --help)
  fleet      one operation on every host of an inventory (the fleet script: $ME fleet --help)
  sim        the simulated vmkernel, in the foreground; sim ctl … controls a running one
  import-c   a driver's signature from its C source (needs clang)
  trace      show, diff or export a trace recorded with --record
  version    this file's version, its Deno, and the vmk_Mgmt library it loads
  ansible-module  what the Ansible collection vmkmgmt.esxi runs (its modules find this file on PATH)

Unpacked on first use into ${XDG_CACHE_HOME:-\$HOME/.cache}/vmkmgmt/ (about 150 MB).
EOF
}

# A directory we may trust: a real directory (not a symbolic link), ours, that no one else can write.
check_private() {
  [ -d "$1" ] && [ ! -L "$1" ] || die "$1 is not a directory (a symbolic link?): refusing it"
  set -- "$1" "$(stat -c '%u %a' "$1")"
  owner=${2% *}
  mode=${2#* }
  [ "$owner" = "$(id -u)" ] || die "$1 belongs to uid $owner, not you (uid $(id -u)): refusing it"
  case $mode in
    *[2367]? | *[2367]) die "$1 (mode $mode) is writable by others: refusing it (chmod go-w it)" ;;
  esac
}

case ${1:-} in
  "" | -h | --help | help)
    usage
    exit 0
    ;;
esac

self=$0
case $self in */*) ;; *) self=$(command -v -- "$self") ;; esac
[ -r "$self" ] || die "cannot read myself ($self)"
[ -n "${HOME:-}${XDG_CACHE_HOME:-}" ] || die "neither HOME nor XDG_CACHE_HOME is set: nowhere to unpack to"
base=${XDG_CACHE_HOME:-$HOME/.cache}/vmkmgmt
[ ! -L "$base" ] || die "$base is a symbolic link: refusing it"
mkdir -p "$base" || die "cannot make $base"
# Ours (made now, or before): narrowed to 0700 — what it holds is run. Anyone else's is refused.
[ "$(stat -c %u "$base")" != "$(id -u)" ] || chmod 700 "$base"
check_private "$base"
dir=$base/bundle-$HASH

if [ ! -f "$dir/.complete" ]; then
  tmp=$(mktemp -d "$base/.unpack-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "$ME: unpacking into $dir (once)…" >&2
  tail -c +$((OFFSET + 1)) "$self" >"$tmp/payload.tgz"
  got=$(sha256sum "$tmp/payload.tgz" | cut -d' ' -f1)
  [ "$got" = "$HASH" ] || die "$self is damaged (its contents' SHA-256 is $got, not $HASH): download it again"
  mkdir "$tmp/x"
  tar -xzf "$tmp/payload.tgz" -C "$tmp/x" || die "cannot unpack into $tmp (disk full?)"
  chmod 700 "$tmp/x"
  : >"$tmp/x/.complete"
  # Another first run may have won the race: its copy is as good.
  mv -T "$tmp/x" "$dir" 2>/dev/null || [ -f "$dir/.complete" ] || die "cannot move the unpacked files to $dir"
  rm -rf "$tmp"
  trap - EXIT
fi
check_private "$dir"
lib=$dir/app/native/build/libvmkmgmt.so
got=$(sha256sum "$lib" | cut -d' ' -f1)
[ "$got" = "$LIB_HASH" ] || die "$lib was changed (SHA-256 $got, not $LIB_HASH): remove $dir and run again"

export DENO_DIR="$dir/deno_dir" DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1 VMKMGMT_CLI=$ME
deno=$dir/deno
app=$dir/app
cmd=$1
shift
case $cmd in
@DISPATCH@
  *)
    echo "$ME: unknown command: $cmd" >&2
    usage >&2
    exit 2
    ;;
esac
