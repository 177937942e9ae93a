#!/usr/bin/env bash
# workspace-images.sh builds every workspace image from Debian's packages and
# this repository's static binaries (no registry is needed):
#
#   aileron/workspace-base:<hash12>  a bookworm minbase rootfs (mmdebstrap) with
#                                    the tools an agent and a person work with,
#                                    and the workspace user 65532:65532
#   aileron/workspace-runtime:dev    the base + the runtime daemon
#                                    (services/workspace/cmd/workspace-runtime)
#                                    as ENTRYPOINT: it serves the runtime API
#                                    and the terminals on one port; user
#                                    65532:65532, LANG=C.UTF-8
#
# The base is cached by a hash of its inputs (the section between the
# "base:begin" and "base:end" marks below: the package list and the recipe):
# when the engine already has aileron/workspace-base:<hash12> nothing is
# rebuilt; when it does not but the rootfs tarball is in
# ${AILERON_CACHE:-$HOME/.cache/aileron}/images/<hash>.tar, the tarball is
# imported (seconds) instead of running mmdebstrap (minutes). The runtime layer
# on top is rebuilt on every run (seconds).
#
# The apt sources are the machine's own (apt-config's sourcelist and
# sourceparts), keeping only the entries of the bookworm suites; set
# AILERON_APT_SOURCES to a sources file (one-line .list or deb822 .sources) to
# use another. mmdebstrap is installed with apt-get when missing (as root, or
# through `sudo -n`).
#
# Usage: hack/workspace-images.sh [--only base|runtime]
# Env:   DOCKER (default docker), GO (default go), AILERON_CACHE,
#        AILERON_APT_SOURCES, RUNTIME_IMAGE (default aileron/workspace-runtime:dev).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
self="${root}/hack/workspace-images.sh"
docker="${DOCKER:-docker}"
gobin="${GO:-go}"
cache="${AILERON_CACHE:-$HOME/.cache/aileron}/images"
runtime_image="${RUNTIME_IMAGE:-aileron/workspace-runtime:dev}"
only=""
while [[ $# -gt 0 ]]; do
	case "$1" in
	--only)
		[[ $# -ge 2 ]] || { echo "usage: $0 [--only base|runtime]" >&2; exit 2; }
		only="$2"
		shift 2
		;;
	*)
		echo "usage: $0 [--only base|runtime]" >&2
		exit 2
		;;
	esac
done
case "${only}" in
"" | base | runtime) ;;
*) echo "usage: $0 [--only base|runtime]" >&2; exit 2 ;;
esac

start=$(date +%s)
step() { printf '=== workspace images: %s (+%ss)\n' "$*" "$(($(date +%s) - start))" >&2; }
fail() { printf 'workspace-images: %s\n' "$*" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- base:begin (everything up to base:end is hashed into the base tag)
suite=bookworm
base_packages=(
	bash coreutils procps less nano
	ca-certificates curl git openssh-client
	python3 python3-pip python3-venv
	nodejs npm
	ripgrep jq tmux
	# The terminal page: libjs-xterm has xterm.css and the addons, but its
	# browser bundle is a stub; node-xterm has the code the daemon wraps.
	libjs-xterm node-xterm
)
# The workspace user: uid and gid 65532 (the one every Aileron image runs
# as), bash as its shell, a home directory and /workspace it owns. The
# docker provisioner mounts the workspace volume on /workspace and points HOME
# into it; /home/workspace is the home of a container run without a volume.
# Locale: glibc's built-in C.UTF-8 (LANG is set by the runtime layer); no
# locales package or locale-gen is needed.
base_hooks=(
	--customize-hook='echo "workspace:x:65532:65532:workspace:/home/workspace:/bin/bash" >>"$1/etc/passwd"'
	--customize-hook='echo "workspace:x:65532:" >>"$1/etc/group"'
	--customize-hook='echo "workspace:!:19000::::::" >>"$1/etc/shadow"'
	--customize-hook='mkdir -p "$1/home/workspace" "$1/workspace" && chown 65532:65532 "$1/home/workspace" "$1/workspace" && chmod 0755 "$1/home/workspace" "$1/workspace"'
	--customize-hook='chmod 1777 "$1/tmp"'
	# No daemons start at install time, and none are left behind.
	--customize-hook='rm -f "$1/etc/machine-id" "$1"/etc/ssh/ssh_host_*'
)
# Documentation, manuals and translations are not needed in a container.
base_dpkgopts=(
	--dpkgopt='path-exclude=/usr/share/man/*'
	--dpkgopt='path-exclude=/usr/share/info/*'
	--dpkgopt='path-exclude=/usr/share/doc/*'
	--dpkgopt='path-include=/usr/share/doc/*/copyright'
	--dpkgopt='path-exclude=/usr/share/locale/*'
	--dpkgopt='path-include=/usr/share/locale/locale.alias'
)
base_aptopts=(
	--aptopt='APT::Install-Recommends "false"'
	--aptopt='Acquire::Retries "3"'
)
# --- base:end

hash="$(sed -n '/^# --- base:begin/,/^# --- base:end/p' "${self}" | sha256sum | cut -c1-64)"
base_image="aileron/workspace-base:${hash:0:12}"

# apt_sources writes the machine's bookworm apt sources into $work and prints
# the files' paths, one a line.
apt_sources() {
	if [[ -n "${AILERON_APT_SOURCES:-}" ]]; then
		[[ -f "${AILERON_APT_SOURCES}" ]] || fail "AILERON_APT_SOURCES=${AILERON_APT_SOURCES} is not a file"
		echo "${AILERON_APT_SOURCES}"
		return
	fi
	command -v apt-config >/dev/null || fail "no apt-config to read the apt sources from: set AILERON_APT_SOURCES to a sources.list"
	local list parts f
	eval "$(apt-config shell list Dir::Etc::sourcelist/f parts Dir::Etc::sourceparts/d)"
	local oneline="${work}/sources.list" deb822="${work}/sources.sources"
	: >"${oneline}"
	: >"${deb822}"
	# One-line format: keep "deb" lines whose suite is bookworm or one of its
	# pockets (bookworm-updates, bookworm-security, bookworm/updates).
	for f in "${list}" "${parts}"*.list; do
		[[ -f "$f" ]] || continue
		awk -v s="${suite}" '
			/^[[:space:]]*deb[[:space:]]/ {
				line = $0; sub(/^[[:space:]]*deb[[:space:]]+/, "", line)
				if (line ~ /^\[/) sub(/^\[[^]]*\][[:space:]]*/, "", line)
				split(line, w, /[[:space:]]+/)
				if (w[2] ~ ("^" s "([-/].*)?$")) print
			}' "$f" >>"${oneline}"
	done
	# deb822 format: keep the enabled paragraphs with such suites, and only those suites.
	for f in "${parts}"*.sources; do
		[[ -f "$f" ]] || continue
		awk -v s="${suite}" '
			function flush() {
				if (para != "" && keep && enabled) { printf "%s\n", para; }
				para = ""; keep = 0; enabled = 1
			}
			BEGIN { enabled = 1 }
			/^[[:space:]]*$/ { flush(); next }
			/^#/ { next }
			{
				if (tolower($1) == "enabled:" && tolower($2) == "no") enabled = 0
				if (tolower($1) == "types:" && $0 !~ /[[:space:]]deb([[:space:]]|$)/) enabled = 0
				if (tolower($1) == "suites:") {
					kept = ""
					for (i = 2; i <= NF; i++) if ($i ~ ("^" s "([-/].*)?$")) kept = kept " " $i
					if (kept != "") keep = 1
					$0 = "Suites:" kept
				}
				para = para $0 "\n"
			}
			END { flush() }' "$f" >>"${deb822}"
	done
	[[ -s "${oneline}" ]] && echo "${oneline}"
	[[ -s "${deb822}" ]] && echo "${deb822}"
	[[ -s "${oneline}" || -s "${deb822}" ]] ||
		fail "no ${suite} entries in the machine's apt sources (${list}, ${parts}): set AILERON_APT_SOURCES to a sources.list with ${suite}"
}

ensure_mmdebstrap() {
	command -v mmdebstrap >/dev/null && return
	local install=(apt-get install -y -qq --no-install-recommends mmdebstrap) sudo=()
	if ((EUID != 0)); then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			fail "mmdebstrap is missing; run as root:
  apt-get update && ${install[*]}"
		fi
	fi
	command -v apt-get >/dev/null || fail "mmdebstrap is missing and there is no apt-get: install mmdebstrap"
	step "installing mmdebstrap"
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" "${install[@]}"
}

build_base() {
	if "${docker}" image inspect "${base_image}" >/dev/null 2>&1; then
		step "base ${base_image} is in the engine"
		return
	fi
	local tar="${cache}/${hash}.tar"
	if [[ ! -s "${tar}" ]]; then
		ensure_mmdebstrap
		mkdir -p "${cache}"
		local sources
		mapfile -t sources < <(apt_sources)
		step "mmdebstrap ${suite} minbase (${#base_packages[@]} packages; minutes when cold) into ${tar}"
		local include
		include="$(IFS=,; echo "${base_packages[*]}")"
		# Written beside the cache entry, renamed when complete: an interrupted
		# run leaves no half tarball under the final name.
		local partial="${cache}/${hash}.partial.tar"
		rm -f "${partial}"
		if ! mmdebstrap --quiet --variant=minbase --include="${include}" \
			"${base_aptopts[@]}" "${base_dpkgopts[@]}" "${base_hooks[@]}" \
			"${suite}" "${partial}" "${sources[@]}" >"${work}/mmdebstrap.log" 2>&1; then
			tail -50 "${work}/mmdebstrap.log" >&2
			rm -f "${partial}"
			fail "mmdebstrap failed (log above)"
		fi
		mv "${partial}" "${tar}"
		step "rootfs $(du -h "${tar}" | cut -f1)"
	else
		step "rootfs from the cache ${tar}"
	fi
	step "docker import ${base_image}"
	"${docker}" import \
		--change 'LABEL org.opencontainers.image.source="aileron.dev" aileron.dev/image="workspace-base"' \
		--change 'CMD ["/bin/bash"]' \
		"${tar}" "${base_image}" >/dev/null
}

# build_runtime adds the runtime daemon on top of the base. It is the
# equivalent of this Dockerfile:
#
#   FROM aileron/workspace-base:<hash12>
#   COPY workspace-runtime /usr/local/bin/workspace-runtime
#   ENV LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME=/home/workspace USER=workspace SHELL=/bin/bash PATH=…
#   USER 65532:65532
#   WORKDIR /workspace
#   ENTRYPOINT ["/usr/local/bin/workspace-runtime"]
#
# written as an image archive for `docker load` instead: the legacy builder
# commits a container per instruction, and on engines whose storage driver
# has no native diff (fuse-overlayfs, vfs) every commit walks the whole
# 400 MB tree, about a minute each on a busy 2-core machine. The archive
# names the base's layer by its diff id, which the engine already has, so
# only the small top layer is read: seconds. The archive is deterministic (no
# timestamps), so an unchanged binary gives the same image id.
build_runtime() {
	"${docker}" image inspect "${base_image}" >/dev/null 2>&1 || fail "base ${base_image} is missing: run $0 without --only"
	local ctx="${work}/runtime" base_diff arch
	mkdir -p "${ctx}/layer/usr/local/bin" "${ctx}/image"
	step "go build workspace-runtime"
	(cd "${root}" && CGO_ENABLED=0 "${gobin}" build -trimpath -ldflags "-s -w" -o "${ctx}/layer/usr/local/bin/workspace-runtime" ./services/workspace/cmd/workspace-runtime)
	base_diff="$("${docker}" image inspect --format '{{range .RootFS.Layers}}{{.}} {{end}}' "${base_image}")"
	read -r -a base_diff <<<"${base_diff}"
	((${#base_diff[@]} == 1)) || fail "base ${base_image} has ${#base_diff[@]} layers, want 1"
	arch="$("${docker}" image inspect --format '{{.Architecture}}' "${base_image}")"

	step "assemble ${runtime_image}"
	chmod 0755 "${ctx}/layer/usr" "${ctx}/layer/usr/local" "${ctx}/layer/usr/local/bin" "${ctx}/layer/usr/local/bin/workspace-runtime"
	tar -C "${ctx}/layer" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "${ctx}/image/top.tar" usr
	local top_diff config config_id
	top_diff="sha256:$(sha256sum "${ctx}/image/top.tar" | cut -d' ' -f1)"
	config="$(printf '{"architecture":"%s","os":"linux","config":{"User":"65532:65532","WorkingDir":"/workspace","Entrypoint":["/usr/local/bin/workspace-runtime"],"Env":["PATH=/workspace/.home/.local/bin:/home/workspace/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8","LC_ALL=C.UTF-8","HOME=/home/workspace","USER=workspace","SHELL=/bin/bash"],"Labels":{"org.opencontainers.image.source":"aileron.dev","aileron.dev/image":"workspace-runtime","aileron.dev/base":"%s"}},"rootfs":{"type":"layers","diff_ids":["%s","%s"]}}' \
		"${arch}" "${base_image}" "${base_diff[0]}" "${top_diff}")"
	printf '%s' "${config}" >"${ctx}/image/config.json"
	config_id="$(sha256sum "${ctx}/image/config.json" | cut -d' ' -f1)"
	mv "${ctx}/image/config.json" "${ctx}/image/${config_id}.json"
	# The base's layer file is not in the archive: the engine has that layer
	# (by its chain id) and never opens the path.
	printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["base/layer.tar","top.tar"]}]' \
		"${config_id}" "${runtime_image}" >"${ctx}/image/manifest.json"
	step "docker load ${runtime_image}"
	if ! tar -C "${ctx}/image" -cf - manifest.json "${config_id}.json" top.tar | "${docker}" load --quiet >"${work}/load.log" 2>&1; then
		cat "${work}/load.log" >&2
		fail "docker load ${runtime_image} failed"
	fi
}

command -v "${docker}" >/dev/null || fail "the docker CLI is not on PATH"
if [[ -z "${only}" || "${only}" == base ]]; then
	build_base
fi
if [[ -z "${only}" || "${only}" == runtime ]]; then
	build_runtime
fi
built=()
[[ "${only}" == runtime ]] || built+=("${base_image}")
[[ "${only}" == base ]] || built+=("${runtime_image}")
step "done: ${built[*]}"
