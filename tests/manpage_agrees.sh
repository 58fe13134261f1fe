#!/bin/sh
# SPDX-License-Identifier: MIT
# The man page and --help agree: every long option that `tun2socks --help` prints, and
# every subcommand of its usage lines, is documented in docs/tun2socks.8 (as roff
# writes it: \-\-name). Usage: manpage_agrees.sh TUN2SOCKS_BINARY MAN_PAGE
set -eu
bin=$1
man=$2
[ -x "$bin" ] || { echo "manpage_agrees: no binary $bin" >&2; exit 1; }
[ -f "$man" ] || { echo "manpage_agrees: no man page $man" >&2; exit 1; }
help=$("$bin" --help)
opts=$(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
[ -n "$opts" ] || { echo "manpage_agrees: --help printed no long option" >&2; exit 1; }
missing=0
n=0
for o in $opts; do
  n=$((n + 1))
  roff=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
  if ! grep -q -- "$roff" "$man"; then
    echo "manpage_agrees: $o is in --help but not in $man" >&2
    missing=$((missing + 1))
  fi
done
for cmd in $(printf '%s\n' "$help" | sed -n 's/^ *\(Usage:\)\{0,1\} *tun2socks \([a-z][a-z]*\) .*/\2/p' | sort -u); do
  n=$((n + 1))
  grep -q "^\.B $cmd\$" "$man" || { echo "manpage_agrees: subcommand '$cmd' has no .B $cmd entry in $man" >&2; missing=$((missing + 1)); }
done
[ "$missing" = 0 ] || exit 1
echo "manpage_agrees: $n options and subcommands of --help, all in $(basename "$man")"
