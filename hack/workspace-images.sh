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
#   aileron/workspace-browser-base:<hash12>
#                                    the same recipe with Debian's headless
#                                    Chromium and fonts (Latin, CJK, emoji)
#                                    instead of the runtime's tools
#   aileron/workspace-browser:dev    the browser base + the browser daemon
#                                    (services/workspace/cmd/workspace-browser),
#                                    which starts Chromium and carries CDP out
#   aileron/workspace-canvas:dev     FROM scratch: the canvas daemon alone
#                                    (services/workspace/cmd/workspace-canvas);
#                                    it reads through the runtime's files API
#
# A base is cached by a hash of its inputs (the section between the
# "base:begin" and "base:end" marks below, and for the browser's also the
# "browser:begin" to "browser:end" section): when the engine already has the
# tag nothing is rebuilt; when it does not but the rootfs tarball is in
# ${AILERON_CACHE:-$HOME/.cache/aileron}/images/<hash>.tar, the tarball is
# imported (seconds) instead of running mmdebstrap (minutes). The daemon
# layers on top are rebuilt on every run (seconds).
#
# The apt sources are the machine's own (apt-config's sourcelist and
# sourceparts), keeping only the entries of the bookworm suites; set
# AILERON_APT_SOURCES to a sources file (one-line .list or deb822 .sources) to
# use another. mmdebstrap is installed with apt-get when missing (as root, or
# through `sudo -n`).
#
# Usage: hack/workspace-images.sh [--only runtime|browser|canvas]...
#        (--only runtime builds the runtime's base when it is missing, too)
# Env:   DOCKER (default docker), GO (default go), AILERON_CACHE,
#        AILERON_APT_SOURCES, RUNTIME_IMAGE (default aileron/workspace-runtime:dev),
#        BROWSER_IMAGE (default aileron/workspace-browser:dev),
#        CANVAS_IMAGE (default aileron/workspace-canvas:dev).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
self="${root}/hack/workspace-images.sh"
docker="${DOCKER:-docker}"
gobin="${GO:-go}"
cache="${AILERON_CACHE:-$HOME/.cache/aileron}/images"
runtime_image="${RUNTIME_IMAGE:-aileron/workspace-runtime:dev}"
browser_image="${BROWSER_IMAGE:-aileron/workspace-browser:dev}"
canvas_image="${CANVAS_IMAGE:-aileron/workspace-canvas:dev}"
usage() { echo "usage: $0 [--only runtime|browser|canvas]..." >&2; exit 2; }
only=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	--only)
		[[ $# -ge 2 ]] || usage
		case "$2" in runtime | browser | canvas) only+=("$2") ;; *) usage ;; esac
		shift 2
		;;
	*) usage ;;
	esac
done
((${#only[@]})) || only=(runtime browser canvas)

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

# --- browser:begin (hashed with the base section into the browser base's tag)
# The browser's base: the same user, hooks and options, with Debian's
# headless Chromium (the headless shell: no X11 or GTK) and fonts for Latin,
# CJK and emoji pages instead of the runtime's tools.
browser_packages=(
	chromium-headless-shell ca-certificates
	fonts-liberation2 fonts-dejavu-core fonts-noto-cjk fonts-noto-color-emoji
)
# --- browser:end

base_section="$(sed -n '/^# --- base:begin/,/^# --- base:end/p' "${self}")"
hash="$(printf '%s\n' "${base_section}" | sha256sum | cut -c1-64)"
base_image="aileron/workspace-base:${hash:0:12}"
browser_hash="$({ printf '%s\n' "${base_section}"; sed -n '/^# --- browser:begin/,/^# --- browser:end/p' "${self}"; } | sha256sum | cut -c1-64)"
browser_base_image="aileron/workspace-browser-base:${browser_hash:0:12}"

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

# build_base makes base image $1 (cache key $2) from the packages after them
# with mmdebstrap, or imports the cached rootfs tarball.
build_base() {
	local image="$1" key="$2"
	shift 2
	if "${docker}" image inspect "${image}" >/dev/null 2>&1; then
		step "base ${image} is in the engine"
		return
	fi
	local tar="${cache}/${key}.tar"
	if [[ ! -s "${tar}" ]]; then
		ensure_mmdebstrap
		mkdir -p "${cache}"
		local sources
		mapfile -t sources < <(apt_sources)
		step "mmdebstrap ${suite} minbase for ${image} ($# packages; minutes when cold) into ${tar}"
		local include
		include="$(IFS=,; echo "$*")"
		# Written beside the cache entry, renamed when complete: an interrupted
		# run leaves no half tarball under the final name.
		local partial="${cache}/${key}.partial.tar"
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
	step "docker import ${image}"
	local label="${image%%:*}"
	"${docker}" import \
		--change "LABEL org.opencontainers.image.source=\"aileron.dev\" aileron.dev/image=\"${label##*/}\"" \
		--change 'CMD ["/bin/bash"]' \
		"${tar}" "${image}" >/dev/null
}

# build_daemon puts one static daemon of this repository on top of a base
# (or on nothing, for base "scratch"). For the runtime it is the equivalent of
# this Dockerfile:
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
#
# Usage: build_daemon IMAGE BASE NAME WORKDIR ENV_JSON; NAME is the command
# under services/workspace/cmd and the binary's name in /usr/local/bin.
build_daemon() {
	local image="$1" base="$2" name="$3" workdir="$4" env="$5"
	local ctx="${work}/${name}" base_diff=() arch diffs
	mkdir -p "${ctx}/layer/usr/local/bin" "${ctx}/image"
	step "go build ${name}"
	(cd "${root}" && CGO_ENABLED=0 "${gobin}" build -trimpath -ldflags "-s -w" -o "${ctx}/layer/usr/local/bin/${name}" "./services/workspace/cmd/${name}")
	if [[ "${base}" == scratch ]]; then
		arch="$("${gobin}" env GOARCH)"
	else
		"${docker}" image inspect "${base}" >/dev/null 2>&1 || fail "base ${base} is missing"
		read -r -a base_diff <<<"$("${docker}" image inspect --format '{{range .RootFS.Layers}}{{.}} {{end}}' "${base}")"
		((${#base_diff[@]} == 1)) || fail "base ${base} has ${#base_diff[@]} layers, want 1"
		arch="$("${docker}" image inspect --format '{{.Architecture}}' "${base}")"
	fi

	step "assemble ${image}"
	chmod 0755 "${ctx}/layer/usr" "${ctx}/layer/usr/local" "${ctx}/layer/usr/local/bin" "${ctx}/layer/usr/local/bin/${name}"
	tar -C "${ctx}/layer" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "${ctx}/image/top.tar" usr
	local top_diff config config_id layers
	top_diff="sha256:$(sha256sum "${ctx}/image/top.tar" | cut -d' ' -f1)"
	if ((${#base_diff[@]})); then
		diffs="\"${base_diff[0]}\",\"${top_diff}\""
		layers='"base/layer.tar","top.tar"'
	else
		diffs="\"${top_diff}\""
		layers='"top.tar"'
	fi
	config="$(printf '{"architecture":"%s","os":"linux","config":{"User":"65532:65532","WorkingDir":"%s","Entrypoint":["/usr/local/bin/%s"],"Env":%s,"Labels":{"org.opencontainers.image.source":"aileron.dev","aileron.dev/image":"%s","aileron.dev/base":"%s"}},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
		"${arch}" "${workdir}" "${name}" "${env}" "${name}" "${base}" "${diffs}")"
	printf '%s' "${config}" >"${ctx}/image/config.json"
	config_id="$(sha256sum "${ctx}/image/config.json" | cut -d' ' -f1)"
	mv "${ctx}/image/config.json" "${ctx}/image/${config_id}.json"
	# The base's layer file is not in the archive: the engine has that layer
	# (by its chain id) and never opens the path.
	printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' \
		"${config_id}" "${image}" "${layers}" >"${ctx}/image/manifest.json"
	step "docker load ${image}"
	if ! tar -C "${ctx}/image" -cf - manifest.json "${config_id}.json" top.tar | "${docker}" load --quiet >"${work}/load.log" 2>&1; then
		cat "${work}/load.log" >&2
		fail "docker load ${image} failed"
	fi
}

command -v "${docker}" >/dev/null || fail "the docker CLI is not on PATH"
path_env="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
for what in "${only[@]}"; do
	case "${what}" in
	runtime)
		build_base "${base_image}" "${hash}" "${base_packages[@]}"
		build_daemon "${runtime_image}" "${base_image}" workspace-runtime /workspace \
			'["PATH=/workspace/.home/.local/bin:/home/workspace/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8","LC_ALL=C.UTF-8","HOME=/home/workspace","USER=workspace","SHELL=/bin/bash"]'
		;;
	browser)
		# HOME in /tmp (a tmpfs in the container): Chromium and fontconfig
		# write caches there, and the root filesystem is read-only.
		build_base "${browser_base_image}" "${browser_hash}" "${browser_packages[@]}"
		build_daemon "${browser_image}" "${browser_base_image}" workspace-browser /tmp \
			"[\"${path_env}\",\"LANG=C.UTF-8\",\"HOME=/tmp\",\"USER=workspace\"]"
		;;
	canvas)
		build_daemon "${canvas_image}" scratch workspace-canvas / "[\"${path_env}\"]"
		;;
	esac
done
step "done: ${only[*]}"
