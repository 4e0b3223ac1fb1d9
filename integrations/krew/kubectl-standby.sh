#!/bin/sh
# kubectl-standby as krew installs it: the compiled plugin in lib/, run by the Node.js on PATH.
set -e
self=$0
# krew links ~/.krew/bin/kubectl-standby to this file: find the real folder through the links.
while [ -h "$self" ]; do
  link=$(readlink "$self")
  case $link in
    /*) self=$link ;;
    *) self=$(dirname "$self")/$link ;;
  esac
done
dir=$(cd "$(dirname "$self")" && pwd)
if ! version=$(node --version 2>/dev/null); then
  echo "error: kubectl standby needs Node.js 24 or later on PATH (node not found)" >&2
  exit 1
fi
major=${version#v}
major=${major%%.*}
if [ "$major" -lt 24 ]; then
  echo "error: kubectl standby needs Node.js 24 or later on PATH (found $version)" >&2
  exit 1
fi
exec node "$dir/lib/dist/plugin/main.js" "$@"
