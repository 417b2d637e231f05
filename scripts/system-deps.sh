#!/usr/bin/env bash
# What Failsafe runs beside its Python packages, from Debian's packages. Each argument names a
# group: venv (what `python -m venv` needs), suite (what `make test` runs), node (Node.js, npm).
# Prints nothing and exits 0 when all is there. Otherwise, as root, apt-get installs only what
# is missing; as anyone else it names the one command that does and exits 1, before anything
# else runs: a missing component never becomes a skipped or failed test later on.
set -euo pipefail

missing=()
need() {  # need COMMAND PACKAGE: PACKAGE provides COMMAND
	command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}

for group in "$@"; do
	case "$group" in
		venv)  # Debian splits ensurepip (and so venv's pip) into pythonX.Y-venv
			python="${PYTHON:-python3}"
			"$python" -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=("$(basename "$python")-venv")
			;;
		suite)
			need chromium chromium                                # the browser tests, through Playwright
			need prometheus-alertmanager prometheus-alertmanager  # the live alert test
			need prometheus prometheus                            # the metric-analysis tests
			need pdftoppm poppler-utils                           # the evidence report's PDF, rendered
			need pdftotext poppler-utils
			need node nodejs
			need npm npm
			;;
		node)
			need node nodejs  # the OpenID provider of the single sign-on tests
			need npm npm      # installs it and axe-core (package-lock.json)
			;;
		*) echo "system-deps.sh: unknown group '$group' (venv, suite, node)" >&2; exit 2 ;;
	esac
done

[ ${#missing[@]} -eq 0 ] && exit 0
read -r -a missing <<<"$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"

if [ "$(id -u)" -ne 0 ]; then
	echo "Failsafe needs these Debian packages, and they are missing: ${missing[*]}." >&2
	echo "Install them (root), then run make again:" >&2
	echo "" >&2
	echo "    sudo apt-get install -y ${missing[*]}" >&2
	echo "" >&2
	exit 1
fi

echo "Installing Debian's ${missing[*]} (apt-get) …"
apt-get update -qq
for package in "${missing[@]}"; do
	# Prometheus' recommends would bring its node exporter; Chromium's bring its fonts.
	[ "$package" = prometheus ] && lean=(--no-install-recommends) || lean=()
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${lean[@]}" "$package" >/dev/null
done
# Debian's postinst starts the packaged Prometheus (9090) and Alertmanager (9093) services
# unless policy-rc.d forbids it: the tests run their own, so the packaged ones are stopped.
for service in prometheus prometheus-alertmanager prometheus-node-exporter; do
	if [ -x "/etc/init.d/$service" ] && "/etc/init.d/$service" status >/dev/null 2>&1; then
		"/etc/init.d/$service" stop >/dev/null
	fi
done
