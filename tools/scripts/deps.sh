#!/bin/sh
# Install the Debian packages ledge needs to build and test, if missing.
# As root it runs apt-get; otherwise it prints the one line to run.
set -eu

PACKAGES="meson ninja-build pkg-config gcc libc6-dev python3 \
libevent-dev liblmdb-dev libyaml-dev libcriterion-dev libnng-dev \
libmsgpack-dev libsodium-dev libseccomp-dev cmake curl openssl clang libclang-rt-14-dev iproute2 nftables"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "ledge needs these Debian packages:$missing" >&2
	echo "install them with:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
