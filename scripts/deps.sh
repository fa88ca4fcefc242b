#!/usr/bin/env bash
# Installs the Debian packages clicksieve builds, tests and demos with,
# only those missing, and mounts bpffs. Usage: scripts/deps.sh [build|test|demo|bench|fuzz]
set -euo pipefail

build_pkgs=(make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
	libpcap-dev libmicrohttpd-dev libinih-dev libcmocka-dev libjansson-dev linux-libc-dev)
test_pkgs=(iproute2 curl nginx-light prometheus tcpreplay python3)
bench_pkgs=(tshark goaccess time)
fuzz_pkgs=(libclang-rt-14-dev)         # libFuzzer and sanitizers for clang 14

want=("${build_pkgs[@]}")
case "${1:-build}" in
	test|demo) want+=("${test_pkgs[@]}") ;;
	bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
	fuzz) want+=("${fuzz_pkgs[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages (run as root to install): ${missing[*]}" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# tshark asks whether non-root users may capture; answer no.
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
