#!/usr/bin/env bash
# Installs school-dns from this source tree as a systemd service:
#
#   /opt/school-dns/                  the program (dist/, production node_modules, lists, policies)
#   /etc/school-dns/school-dns.yaml   its configuration   (kept if it already exists)
#   /etc/school-dns/policies/         the age-group policy (kept if it already exists)
#   /etc/school-dns/lists/            the curated lists    (each file kept if it already exists)
#   /etc/systemd/system/school-dns.service
#   /usr/local/bin/school-dns         the command (reload, check, requests, ...)
#   /var/lib/school-dns/              its state, made by systemd (StateDirectory=)
#
# Run as root from the source tree, after `npm ci` (npm start or npm test does that):
#
#   sudo systemd/install.sh [--address 10.20.0.2] [--no-start]
#
# Options:
#   --address IP   this server's IPv4 address on the school network: where school-dns
#                  listens (port 53) and where blocked names point (the block page).
#                  Default: the source address of this machine's default route.
#   --no-start     install only; do not run systemctl (no systemd here, or start later)
#   --root DIR     install under DIR instead of / (packaging, tests); implies --no-start
#
# Upgrading: run it again. The program is replaced; configuration, policy, lists and
# state are kept (a changed shipped file is written beside yours as FILE.dist to compare).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=""
ADDRESS=""
START=1

die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
say() { printf 'install.sh: %s\n' "$*"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --address) ADDRESS=${2:-}; shift 2 ;;
    --no-start) START=0; shift ;;
    --root) ROOT=${2:-}; START=0; shift 2 ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
if [[ -n $ROOT ]]; then
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
elif [[ $(id -u) -ne 0 ]]; then
  die "run as root (sudo $0), or give --root DIR to install somewhere else"
fi

PREFIX=$ROOT/opt/school-dns
ETC=$ROOT/etc/school-dns
UNIT_DIR=$ROOT/etc/systemd/system
BIN_DIR=$ROOT/usr/local/bin

# This server's address: the source address of the default route, unless given.
if [[ -z $ADDRESS ]]; then
  ADDRESS=$(ip -4 route get 192.0.2.1 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "src") { print $(i + 1); exit } }' || true)
  [[ -n $ADDRESS ]] || die "could not tell this server's address: give --address IP"
  say "this server's address: $ADDRESS (give --address to choose another)"
fi
octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
[[ $ADDRESS =~ ^$octet\.$octet\.$octet\.$octet$ ]] || die "--address $ADDRESS is not an IPv4 address"

# Node.js 20 or later, where systemd will look for it.
NODE=$(command -v node || true)
[[ -n $NODE ]] || die "Node.js is not installed: install Node.js 20 or later first"
NODE=$(readlink -f "$NODE")
major=$("$NODE" -p 'process.versions.node.split(".")[0]')
[[ $major -ge 20 ]] || die "Node.js $("$NODE" -v) is too old: school-dns needs 20 or later"

# The build: dist/ from this tree, compiled now if missing or older than the sources.
[[ -d $SRC/node_modules ]] || die "no node_modules in $SRC: run 'npm ci' there first"
if [[ ! -f $SRC/dist/cli/main.js ]] || [[ -n $(find "$SRC/src" -newer "$SRC/dist/cli/main.js" -name '*.ts' -print -quit) ]]; then
  say "building (npm run build)"
  (cd "$SRC" && npm run --silent build)
fi

# The program: replaced as a whole, so nothing of an older version lingers.
say "installing the program in ${PREFIX#"$ROOT"}"
staging=$(mktemp -d "$ROOT/opt/.school-dns.XXXXXX" 2>/dev/null || { mkdir -p "$ROOT/opt" && mktemp -d "$ROOT/opt/.school-dns.XXXXXX"; })
trap 'rm -rf "$staging"' EXIT
cp -a "$SRC/dist" "$SRC/bin" "$SRC/lists" "$SRC/policies" "$SRC/config" "$SRC/systemd" "$SRC/package.json" "$SRC/package-lock.json" "$staging/"
for doc in README.md README.vi.md LICENSE; do [[ -f $SRC/$doc ]] && cp -a "$SRC/$doc" "$staging/"; done
# Production dependencies only, copied from this tree's node_modules (no download, and
# native modules already built for this Node.js).
mkdir -p "$staging/node_modules"
(cd "$SRC" && npm ls --omit=dev --all --parseable 2>/dev/null || true) | while IFS= read -r dir; do
  rel=${dir#"$SRC"/}
  # Top-level packages only ("node_modules/x" or "node_modules/@scope/x"); nested ones come with them.
  [[ $rel =~ ^node_modules/(@[^/]+/)?[^/]+$ ]] || continue
  mkdir -p "$staging/$(dirname "$rel")"
  cp -a "$dir" "$staging/$rel"
done
[[ -d $staging/node_modules/commander ]] || die "could not copy the production dependencies (is 'npm ci' done in $SRC?)"
rm -rf "$PREFIX.old"
[[ -d $PREFIX ]] && mv "$PREFIX" "$PREFIX.old"
mv "$staging" "$PREFIX"
trap - EXIT
rm -rf "$PREFIX.old"
chmod -R go-w "$PREFIX"
chmod 755 "$PREFIX"

# Configuration, policy and lists: the operator's own once installed.
# keep SRC DEST: install SRC as DEST unless DEST exists; then write DEST.dist if they differ.
keep() {
  local from=$1 to=$2
  mkdir -p "$(dirname "$to")"
  if [[ ! -e $to ]]; then
    install -m 0644 "$from" "$to"
  elif ! cmp -s "$from" "$to"; then
    install -m 0644 "$from" "$to.dist"
    say "kept your ${to#"$ROOT"}; the shipped version is beside it as $(basename "$to").dist"
  fi
}
config=$(mktemp)
sed -e "s/@LISTEN@/$ADDRESS:53/" -e "s/@SINKHOLE4@/$ADDRESS/" "$SRC/systemd/school-dns.yaml" >"$config"
keep "$config" "$ETC/school-dns.yaml"
rm -f "$config"
# The server's own queries come from its address on the school network when its resolver is
# itself (as DHCP tells every other device): staff, like loopback, not the strictest group.
policy=$(mktemp)
awk -v addr="$ADDRESS" '
  { print }
  /^      - \{ cidr: "::1", group: staff \}/ && !done { printf "      - { cidr: \"%s/32\", group: staff }   # this server (install.sh --address)\n", addr; done = 1 }
' "$SRC/policies/school-dns-policy.yaml" >"$policy"
grep -q "cidr: \"$ADDRESS/32\"" "$policy" || die "could not add $ADDRESS to the policy's school-dns server networks: policies/school-dns-policy.yaml changed shape"
keep "$policy" "$ETC/policies/school-dns-policy.yaml"
rm -f "$policy"
for f in "$SRC"/lists/*; do keep "$f" "$ETC/lists/$(basename "$f")"; done

# The unit, pointing at this Node.js, and the command.
mkdir -p "$UNIT_DIR" "$BIN_DIR"
sed -e "s#^ExecStart=/usr/bin/node #ExecStart=$NODE #" "$SRC/systemd/school-dns.service" >"$UNIT_DIR/school-dns.service"
chmod 0644 "$UNIT_DIR/school-dns.service"
ln -sfn /opt/school-dns/bin/school-dns "$BIN_DIR/school-dns"

say "installed: program ${PREFIX#"$ROOT"}, configuration ${ETC#"$ROOT"}, unit ${UNIT_DIR#"$ROOT"}/school-dns.service"
if [[ $START == 1 ]]; then
  if [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    systemctl enable school-dns.service
    systemctl restart school-dns.service
    say "started: systemctl status school-dns; logs: journalctl -u school-dns"
  else
    say "systemd is not running here: start it with 'node /opt/school-dns/dist/cli/main.js serve --config /etc/school-dns/school-dns.yaml'"
  fi
else
  say "not started (--no-start): systemctl daemon-reload && systemctl enable --now school-dns"
fi
