#!/bin/sh
# build-deb.sh — build the Debian package from a copy of this tree in OUT/deb/ (so that
# dpkg-buildpackage's artefacts, which it writes beside the source folder, stay in OUT and not
# in the clone's parent folder), then copy the .deb into OUT. Prints the .deb's path.
# Usage: scripts/build-deb.sh [OUT]   (default: build)
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$here/build}" && cd "${1:-$here/build}" && pwd)
version=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
work="$out/deb"
src="$work/portreg-$version"

rm -rf "$work"
mkdir -p "$src"
# the tree as it is (committed or not), without build folders and git's data
(cd "$here" && tar -cf - --exclude=./.git --exclude='./build*' --exclude=./.ci-cache .) | tar -xf - -C "$src"

# nocheck: the tests run in make test (debian/rules); -J: ninja and dh in parallel
(cd "$src" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" \
  dpkg-buildpackage -us -uc -b -J"$(nproc)" >"$work/build.log" 2>&1) || {
  tail -40 "$work/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed; the whole log is $work/build.log" >&2
  exit 1
}
rm -rf "$src"
cp "$work/portreg_${version}_${arch}.deb" "$out/"
echo "$out/portreg_${version}_${arch}.deb"
